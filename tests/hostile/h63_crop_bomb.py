# h63_crop_bomb.py (hostile sandbox test)
# tries: crop a box far larger than the image (PIL allocates the whole box)
# expect: runtime ProgramResourceError: over the limit
from PIL import Image


async def execute_query(image_filename):
    return Image.open(image_filename).crop((0, 0, 100_000, 100_000)).size
