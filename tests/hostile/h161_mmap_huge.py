# h161_mmap_huge.py (hostile sandbox test)
# tries: map 64 GB of anonymous memory
# expect: static SandboxViolation: import of 'mmap' is not allowed
import mmap


async def execute_query(image_filename):
    region = mmap.mmap(-1, 64 * 1024**3)
    region[-1:] = b"x"
    return len(region)
