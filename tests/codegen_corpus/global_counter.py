# shape: global state
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


count = 0


async def execute_query(image_filename):
    global count
    image = Image.open(image_filename)
    for q in ["a?", "b?"]:
        a = await hermod.call("blip", image=image, question=q)
        count += len(a["answer"])
    return count
