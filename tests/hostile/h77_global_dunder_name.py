# h77_global_dunder_name.py (hostile sandbox test)
# tries: read __name__ / __spec__ globals
# expect: static SandboxViolation: '__spec__'
async def execute_query(image_filename):
    return str(__spec__)
