# h130_ctypes_system.py (hostile sandbox test)
# tries: libc.system through ctypes
# expect: static SandboxViolation: import of 'ctypes' is not allowed
import ctypes


async def execute_query(image_filename):
    return ctypes.CDLL(None).system(b"touch /run/dicec-hostile-spawned")
