# h124_os_fork.py (hostile sandbox test)
# tries: os.fork a child that writes a marker
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    pid = os.fork()
    if pid == 0:
        open("/run/dicec-hostile-spawned", "w").write("child")
        os._exit(0)
    return pid
