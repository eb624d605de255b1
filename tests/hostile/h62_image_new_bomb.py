# h62_image_new_bomb.py (hostile sandbox test)
# tries: Image.new with 10 billion pixels
# expect: runtime ProgramResourceError: over the limit
from PIL import Image


async def execute_query(image_filename):
    return Image.new("RGB", (100_000, 100_000)).size
