# h148_read_canary_in_tmp.py (hostile sandbox test)
# tries: read a root-only file under /tmp
# expect: static SandboxViolation: name 'open' is not allowed
async def execute_query(image_filename):
    return open("/tmp/dicec-hostile-canary").read()
