# h123_subprocess_run.py (hostile sandbox test)
# tries: subprocess.run a shell
# expect: static SandboxViolation: import of 'subprocess' is not allowed
import subprocess


async def execute_query(image_filename):
    return subprocess.run(["/bin/sh", "-c", "touch /run/dicec-hostile-spawned"]).returncode
