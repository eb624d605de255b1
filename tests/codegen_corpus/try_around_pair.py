# shape: try around independent calls
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    try:
        a = await hermod.call("blip", image=image, question="a?")
        b = await hermod.call("blip", image=image, question="b?")
        return a["answer"] + b["answer"]
    except Exception as e:
        return f"failed: {e}"
