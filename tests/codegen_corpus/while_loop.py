# shape: while loop
# minimal-rounds: 3
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    i = 0
    total = 0
    while i < 3:
        r = await hermod.call("noop", value=i)
        total += r["value"]
        i += 1
    return total
