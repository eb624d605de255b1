# h13_getattr_computed.py (hostile sandbox test)
# tries: getattr with a computed dunder name
# expect: static SandboxViolation: 'getattr'
async def execute_query(image_filename):
    return getattr((), "__cla" + "ss__")
