# h23_import_builtins.py (hostile sandbox test)
# tries: import builtins; builtins.open
# expect: static SandboxViolation: import of 'builtins'
import builtins


async def execute_query(image_filename):
    return builtins.open("/etc/passwd").read()
