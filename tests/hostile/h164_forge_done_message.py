# h164_forge_done_message.py (hostile sandbox test)
# tries: write a forged message on the task's own socket
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    for fd in os.listdir("/proc/self/fd"):
        try:
            os.write(int(fd), b'{"v": 1, "t": "call", "id": 1, "name": "blip", "kwargs": {"image": "img:' + b"cd" * 32 + b'", "question": "x"}, "uploads": {}}\n')
        except OSError:
            pass
    return "forged"
