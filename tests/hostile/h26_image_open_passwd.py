# h26_image_open_passwd.py (hostile sandbox test)
# tries: Image.open('/etc/passwd') to read a file
# expect: runtime SandboxViolation: file access denied
from PIL import Image


async def execute_query(image_filename):
    return Image.open("/etc/passwd").size
