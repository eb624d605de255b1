# h149_read_canary_os_open.py (hostile sandbox test)
# tries: os.open + os.read of a root-only file
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    return os.read(os.open("/run/dicec-hostile-canary", os.O_RDONLY), 100).decode()
