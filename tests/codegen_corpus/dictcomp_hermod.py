# shape: dict comprehension
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    qs = ["color?", "model?", "year?"]
    answers = {q: (await hermod.call("blip", image=image, question=q))["answer"] for q in qs}
    return answers
