# shape: loop over detections
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    for i, b in enumerate(boxes):
        crop = image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))
        a0 = await hermod.call("blip", image=crop, question="color?")
        print(i, a0["answer"])
    return len(boxes)
