# shape: helper called per item
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image



async def describe(img):
    first = await hermod.call("blip", image=img, question="color?")
    second = await hermod.call("xvlm", image=img, object_name="car", property="red")
    return first["answer"] + str(second["result"])


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    out = []
    for b in boxes:
        out.append(await describe(image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))))
    return out
