# h126_os_execv.py (hostile sandbox test)
# tries: replace the process with a shell
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os.execv("/bin/sh", ["sh", "-c", "touch /run/dicec-hostile-spawned"])
