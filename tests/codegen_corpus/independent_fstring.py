# shape: calls in expressions
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    return f'{(await hermod.call("blip", image=image, question="a?"))["answer"]} {(await hermod.call("blip", image=image, question="b?"))["answer"]}'
