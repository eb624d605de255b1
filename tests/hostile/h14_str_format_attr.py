# h14_str_format_attr.py (hostile sandbox test)
# tries: '{0.__class__}'.format(x) reads attributes from a string
# expect: static SandboxViolation: 'format'
async def execute_query(image_filename):
    return "{0.__class__.__mro__}".format(1)
