# h146_chmod_victim.py (hostile sandbox test)
# tries: make a host file world-writable
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.chmod("/run/dicec-hostile-victim", 0o777)
    return "chmod"
