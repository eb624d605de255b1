# h154_ptrace_parent.py (hostile sandbox test)
# tries: ptrace-attach to the parent through ctypes
# expect: static SandboxViolation: import of 'ctypes' is not allowed
import ctypes
import os


async def execute_query(image_filename):
    return ctypes.CDLL(None).ptrace(16, os.getppid(), None, None)
