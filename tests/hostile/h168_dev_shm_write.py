# h168_dev_shm_write.py (hostile sandbox test)
# tries: write into shared memory
# expect: static SandboxViolation: name 'open' is not allowed
async def execute_query(image_filename):
    open("/dev/shm/dicec-hostile-written", "w").write("x")
    return "written"
