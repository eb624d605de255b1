# h157_unshare_mount.py (hostile sandbox test)
# tries: unshare and mount over the file system through ctypes
# expect: static SandboxViolation: import of 'ctypes' is not allowed
import ctypes


async def execute_query(image_filename):
    libc = ctypes.CDLL(None)
    return [libc.unshare(0x00020000), libc.mount(b"none", b"/", None, 0x20 | 0x1000, None)]
