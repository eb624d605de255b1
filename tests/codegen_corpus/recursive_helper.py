# shape: recursive helper over a list
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image



async def ask_all(image, qs):
    if not qs:
        return []
    first = await hermod.call("blip", image=image, question=qs[0])
    rest = await ask_all(image, qs[1:])
    return [first["answer"]] + rest


async def execute_query(image_filename):
    image = Image.open(image_filename)
    qs = ["a?", "b?", "c?"]
    return await ask_all(image, qs)
