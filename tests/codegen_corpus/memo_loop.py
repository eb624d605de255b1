# shape: memo loop
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    cache = {}
    out = []
    for q in ["color?", "model?", "color?"]:
        if q not in cache:
            cache[q] = (await hermod.call("blip", image=image, question=q))["answer"]
        out.append(cache[q])
    return out
