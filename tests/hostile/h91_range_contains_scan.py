# h91_range_contains_scan.py (hostile sandbox test)
# tries: 'x' in range(10**12): a C-level scan of 10**12 items
# expect: runtime ProgramTimeoutError: wall-clock limit
async def execute_query(image_filename):
    return "x" in range(10**12)
