# shape: explicit raise
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    if not boxes:
        raise ValueError("no car")
    a = await hermod.call("blip", image=image, question="color?")
    return a["answer"]
