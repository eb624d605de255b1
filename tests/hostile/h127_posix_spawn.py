# h127_posix_spawn.py (hostile sandbox test)
# tries: os.posix_spawn (clone with CLONE_VM, then exec)
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    return os.posix_spawn("/bin/touch", ["touch", "/run/dicec-hostile-spawned"], {})
