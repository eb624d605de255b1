# h15_format_map.py (hostile sandbox test)
# tries: format_map reading attributes
# expect: static SandboxViolation: 'format_map'
async def execute_query(image_filename):
    return "{x.__class__}".format_map({"x": 1})
