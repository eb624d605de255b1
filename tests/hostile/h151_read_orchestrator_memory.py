# h151_read_orchestrator_memory.py (hostile sandbox test)
# tries: read another process's memory through /proc/<pid>/mem
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    ppid = os.getppid()
    with open(f"/proc/{ppid}/mem", "rb") as mem:
        return len(mem.read(16))
