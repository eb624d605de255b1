# h37_shift_bomb.py (hostile sandbox test)
# tries: 1 << 10**10
# expect: runtime ProgramResourceError: bits
async def execute_query(image_filename):
    return 1 << 10**10
