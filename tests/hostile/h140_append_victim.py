# h140_append_victim.py (hostile sandbox test)
# tries: append to an existing file of the host
# expect: static SandboxViolation: import of 'os' is not allowed
import os


async def execute_query(image_filename):
    with open("/run/dicec-hostile-victim", "a") as out:
        out.write("changed")
    return "appended"
