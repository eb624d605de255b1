# shape: accumulator (sum)
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="bottle")
    total = 0
    for b in boxes:
        d = await hermod.call("depth", image=image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])))
        total += d["depth"]
    return total
