# h141_truncate_victim.py (hostile sandbox test)
# tries: truncate an existing file
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.truncate("/run/dicec-hostile-victim", 0)
    return "truncated"
