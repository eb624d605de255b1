# shape: independent call after list.append loop
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="dog")
    names = []
    for b in boxes:
        a = await hermod.call("blip", image=image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])), question="breed?")
        names.append(a["answer"])
    d = await hermod.call("depth", image=image)
    return names, d["depth"]
