# h11_eval.py (hostile sandbox test)
# tries: eval of a string
# expect: static SandboxViolation: 'eval'
async def execute_query(image_filename):
    return eval("1 + 1")
