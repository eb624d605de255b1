# h142_remove_victim.py (hostile sandbox test)
# tries: delete a file of the host
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.remove("/run/dicec-hostile-victim")
    return "removed"
