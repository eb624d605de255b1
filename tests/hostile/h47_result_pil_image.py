# h47_result_pil_image.py (hostile sandbox test)
# tries: return a PIL image
# expect: runtime ProgramError: result is not JSON-serialisable
from PIL import Image


async def execute_query(image_filename):
    return Image.open(image_filename)
