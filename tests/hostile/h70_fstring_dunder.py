# h70_fstring_dunder.py (hostile sandbox test)
# tries: an f-string expression reading __class__
# expect: static SandboxViolation: '__class__'
async def execute_query(image_filename):
    return f"{image_filename.__class__}"
