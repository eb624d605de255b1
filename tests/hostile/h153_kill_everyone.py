# h153_kill_everyone.py (hostile sandbox test)
# tries: kill(-1, SIGKILL): every process the user may signal
# expect: static SandboxViolation: import of 'os' is not allowed
import os
import signal


async def execute_query(image_filename):
    os.kill(-1, signal.SIGKILL)
    return "killed everyone"
