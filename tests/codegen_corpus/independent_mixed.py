# shape: independent calls
# minimal-rounds: 1
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    d = await hermod.call("depth", image=image)
    c = await hermod.call("glip", image=image, object_name="car")
    q = await hermod.call("xvlm", image=image, object_name="car", property="red")
    return d["depth"], len(c), q["result"]
