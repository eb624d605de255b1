# h125_fork_bomb.py (hostile sandbox test)
# tries: fork in a loop
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    pids = []
    for _ in range(100):
        pids.append(os.fork())
    return pids
