# h158_io_uring_setup.py (hostile sandbox test)
# tries: io_uring opens files behind a syscall filter's back
# expect: static SandboxViolation: import of 'ctypes' is not allowed
import ctypes


async def execute_query(image_filename):
    params = ctypes.create_string_buffer(120)
    return ctypes.CDLL(None).syscall(425, 8, params)
