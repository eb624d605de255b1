# shape: independent calls
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    a0 = await hermod.call("blip", image=image, question="color?")
    a1 = await hermod.call("blip", image=image, question="model?")
    a2 = await hermod.call("blip", image=image, question="year?")
    return a0["answer"] + a1["answer"] + a2["answer"]
