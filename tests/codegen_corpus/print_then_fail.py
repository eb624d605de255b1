# shape: prints before a call that may fail
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    print("start")
    a = await hermod.call("blip", image=image, question="a?")
    print("middle")
    b = await hermod.call("blip", image=image, question="b?")
    print("end")
    return a["answer"], b["answer"]
