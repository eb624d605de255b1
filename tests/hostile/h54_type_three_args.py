# h54_type_three_args.py (hostile sandbox test)
# tries: type(name, bases, dict) to build a class at run time
# expect: static SandboxViolation: 'type'
async def execute_query(image_filename):
    return str(type("X", (), {}))
