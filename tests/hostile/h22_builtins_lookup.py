# h22_builtins_lookup.py (hostile sandbox test)
# tries: __builtins__['open'] lookup
# expect: static SandboxViolation: '__builtins__'
async def execute_query(image_filename):
    return __builtins__["open"]("/etc/passwd").read()
