# h65_swallow_violation.py (hostile sandbox test)
# tries: catch the file-access error and return normally
# expect: runtime SandboxViolation: file access denied
from PIL import Image


async def execute_query(image_filename):
    try:
        Image.open("/etc/shadow")
    except Exception:
        pass
    return "nothing happened"
