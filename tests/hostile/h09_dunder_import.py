# h09_dunder_import.py (hostile sandbox test)
# tries: __import__('os') as a builtin
# expect: static SandboxViolation: '__import__'
async def execute_query(image_filename):
    return __import__("os").system("id")
