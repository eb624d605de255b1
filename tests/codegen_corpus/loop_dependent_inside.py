# shape: loop with a chain inside
# minimal-rounds: 3
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    for b in boxes:
        crop = image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))
        kind = await hermod.call("blip", image=crop, question="What is it?")
        color = await hermod.call("blip", image=crop, question=f"What color is the {kind['answer']}?")
        print(color["answer"])
    return "ok"
