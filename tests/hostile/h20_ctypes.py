# h20_ctypes.py (hostile sandbox test)
# tries: ctypes to call libc
# expect: static SandboxViolation: import of 'ctypes'
import ctypes


def execute_command(image):
    return ctypes.CDLL(None).system(b"id")
