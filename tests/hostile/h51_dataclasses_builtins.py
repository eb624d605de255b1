# h51_dataclasses_builtins.py (hostile sandbox test)
# tries: dataclasses.builtins.open (a module reachable from a module)
# expect: static SandboxViolation: 'builtins'
import dataclasses


async def execute_query(image_filename):
    return dataclasses.builtins.open("/etc/passwd").read()
