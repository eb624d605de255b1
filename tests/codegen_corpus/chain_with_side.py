# shape: dependent chain + independent
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    a = await hermod.call("blip", image=image, question="What is it?")
    b = await hermod.call("blip", image=image, question=f"What color is the {a['answer']}?")
    d = await hermod.call("depth", image=image)
    return b["answer"], d["depth"]
