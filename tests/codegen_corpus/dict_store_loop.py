# shape: loop storing into a dict
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    colors = {}
    for i, b in enumerate(boxes):
        a = await hermod.call("blip", image=image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])), question="color?")
        colors[i] = a["answer"]
    return colors
