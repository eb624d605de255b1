# shape: loop reading its except name
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    answers = []
    for q in ["color?", "model?", "year?"]:
        try:
            a = await hermod.call("blip", image=image, question=q)
            answers.append(a["answer"])
        except Exception as e:
            answers.append(f"error: {e}")
    return answers
