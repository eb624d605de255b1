# h150_read_orchestrator_environ.py (hostile sandbox test)
# tries: read the orchestrator's environment through /proc (its secrets)
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    return found
