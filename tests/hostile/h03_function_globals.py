# h03_function_globals.py (hostile sandbox test)
# tries: reach the real builtins through a function's __globals__
# expect: static SandboxViolation: '__globals__'
def helper():
    return 1


async def execute_query(image_filename):
    return helper.__globals__["__builtins__"]["open"]("/etc/passwd").read()
