# shape: pure helpers gathered
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image



async def describe(img, question):
    first = await hermod.call("blip", image=img, question=question)
    return first["answer"]


async def execute_query(image_filename):
    image = Image.open(image_filename)
    a = await describe(image, "color?")
    b = await describe(image, "model?")
    return a + b
