# h138_write_tmp_file.py (hostile sandbox test)
# tries: write a file under /tmp
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    with open("/tmp/dicec-hostile-written", "w") as out:
        out.write("x")
    return os.listdir("/tmp")
