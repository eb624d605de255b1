# shape: prints between calls
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    a = await hermod.call("blip", image=image, question="color?")
    print("color:", a["answer"])
    b = await hermod.call("blip", image=image, question="model?")
    print("model:", b["answer"])
    return "done"
