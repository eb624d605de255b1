# shape: loop mutating a nested dict
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    info = {"cars": {}}
    for i, b in enumerate(boxes):
        a = await hermod.call("blip", image=image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])), question="color?")
        info["cars"][i] = a["answer"]
    return info
