# h165_garbage_on_socket.py (hostile sandbox test)
# tries: flood the task's socket with a line that is not JSON
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    for fd in os.listdir("/proc/self/fd"):
        try:
            os.write(int(fd), b"not json at all\n")
        except OSError:
            pass
    return "flooded"
