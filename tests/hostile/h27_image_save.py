# h27_image_save.py (hostile sandbox test)
# tries: img.save('/tmp/x.png') to write a file
# expect: static SandboxViolation: 'save'
from PIL import Image


async def execute_query(image_filename):
    Image.open(image_filename).save("/tmp/dicec-hostile.png")
