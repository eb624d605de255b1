# h02_object_subclasses.py (hostile sandbox test)
# tries: object.__subclasses__() directly
# expect: static SandboxViolation: '__subclasses__'
async def execute_query(image_filename):
    classes = object.__subclasses__()
    return [str(c) for c in classes]
