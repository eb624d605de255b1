# h147_read_canary.py (hostile sandbox test)
# tries: read a root-only file
# expect: static SandboxViolation: name 'open' is not allowed
async def execute_query(image_filename):
    return open("/run/dicec-hostile-canary").read()
