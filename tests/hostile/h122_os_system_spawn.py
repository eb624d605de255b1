# h122_os_system_spawn.py (hostile sandbox test)
# tries: os.system runs a shell that touches a marker file
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    return os.system("touch /tmp/dicec-hostile-spawned; touch /run/dicec-hostile-spawned")
