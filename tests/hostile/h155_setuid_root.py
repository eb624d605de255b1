# h155_setuid_root.py (hostile sandbox test)
# tries: become root again
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.setuid(0)
    return open("/run/dicec-hostile-canary").read()
