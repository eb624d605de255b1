# h131_ctypes_raw_syscall_execve.py (hostile sandbox test)
# tries: a raw execve syscall through ctypes (59 on x86-64)
# expect: static SandboxViolation: import of 'ctypes' is not allowed
import ctypes


async def execute_query(image_filename):
    libc = ctypes.CDLL(None)
    argv = (ctypes.c_char_p * 3)(b"/bin/true", None, None)
    return libc.syscall(59, b"/bin/true", argv, None)
