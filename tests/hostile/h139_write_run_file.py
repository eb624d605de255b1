# h139_write_run_file.py (hostile sandbox test)
# tries: write a file where the host can see it
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    fd = os.open("/run/dicec-hostile-written", os.O_WRONLY | os.O_CREAT, 0o644)
    return os.write(fd, b"x")
