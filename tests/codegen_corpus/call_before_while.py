# shape: call before a while loop
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    scene = await hermod.call("blip", image=image, question="What is the scene?")
    i = 0
    answers = []
    while i < 2:
        a = await hermod.call("noop", value=i)
        answers.append(a["value"])
        i += 1
    return scene["answer"], answers
