# shape: accumulator over range
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    total = 0
    for i in range(4):
        r = await hermod.call("noop", value=i)
        total += 1
    return total
