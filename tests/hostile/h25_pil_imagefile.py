# h25_pil_imagefile.py (hostile sandbox test)
# tries: from PIL import ImageFile (a module with file APIs)
# expect: static SandboxViolation: cannot be imported from PIL
from PIL import ImageFile


async def execute_query(image_filename):
    return str(ImageFile)
