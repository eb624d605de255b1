# h163_exit_without_result.py (hostile sandbox test)
# tries: os._exit before reporting
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    os._exit(0)
