# h24_pil_module_os.py (hostile sandbox test)
# tries: PIL.Image module attributes that are modules (Image.os, Image.core)
# expect: runtime AttributeError: has no attribute 'os'
from PIL import Image


async def execute_query(image_filename):
    return Image.os.listdir("/")
