# shape: index may raise
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    first = boxes[0]
    a = await hermod.call("blip", image=image, question="Where?")
    b = await hermod.call("blip", image=image.crop((first["x"], first["y"], first["x"] + first["width"], first["y"] + first["height"])), question="Color?")
    return a["answer"], b["answer"]
