# h64_match_class_attr.py (hostile sandbox test)
# tries: a match class pattern reading __class__
# expect: static SandboxViolation: '__class__'
async def execute_query(image_filename):
    match 1:
        case int(__class__=cls):
            return str(cls)
