# h68_assign_builtins.py (hostile sandbox test)
# tries: replace __builtins__ in the program namespace
# expect: static SandboxViolation: '__builtins__'
__builtins__ = {}


async def execute_query(image_filename):
    return 1
