# h10_open_file.py (hostile sandbox test)
# tries: open('/etc/passwd')
# expect: static SandboxViolation: 'open'
async def execute_query(image_filename):
    with open("/etc/passwd") as handle:
        return handle.read()
