# h94_method_alias_crop.py (hostile sandbox test)
# tries: take img.crop without calling it, then call the alias with a huge box
# expect: runtime ProgramResourceError: crop() would make an image
from PIL import Image


async def execute_query(image_filename):
    cut = Image.open(image_filename).crop
    return cut((0, 0, 100_000, 100_000)).size
