# shape: gather already
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    replies = await asyncio.gather(*(hermod.call("noop", value=i) for i in range(5)))
    return sum(r["value"] for r in replies)
