# h17_import_os.py (hostile sandbox test)
# tries: import os
# expect: static SandboxViolation: import of 'os'
import os


async def execute_query(image_filename):
    return os.listdir("/")
