# h144_symlink_create.py (hostile sandbox test)
# tries: plant a symlink
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.symlink("/etc/shadow", "/run/dicec-hostile-written")
    return "linked"
