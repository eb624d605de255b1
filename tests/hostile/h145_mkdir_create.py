# h145_mkdir_create.py (hostile sandbox test)
# tries: create a directory
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.mkdir("/run/dicec-hostile-written")
    return "made"
