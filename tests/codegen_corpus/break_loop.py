# shape: break in a loop
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    found = "none"
    for b in boxes:
        a = await hermod.call("xvlm", image=image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])), object_name="car", property="red")
        if a["result"]:
            found = "red"
            break
    return found
