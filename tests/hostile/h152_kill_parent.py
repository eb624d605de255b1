# h152_kill_parent.py (hostile sandbox test)
# tries: SIGKILL the zygote
# expect: static SandboxViolation: import of 'os' is not allowed
import os
import signal


async def execute_query(image_filename):
    os.kill(os.getppid(), signal.SIGKILL)
    return "killed the parent"
