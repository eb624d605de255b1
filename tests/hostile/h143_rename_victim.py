# h143_rename_victim.py (hostile sandbox test)
# tries: rename a file of the host
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.rename("/run/dicec-hostile-victim", "/run/dicec-hostile-written")
    return "renamed"
