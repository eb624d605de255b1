# h95_unbound_method_crop.py (hostile sandbox test)
# tries: Image.Image.crop(img, box): the unbound method with a huge box
# expect: runtime ProgramResourceError: crop() would make an image
from PIL import Image


def execute_command(image):
    return Image.Image.crop(image, (0, 0, 100_000, 100_000)).size
