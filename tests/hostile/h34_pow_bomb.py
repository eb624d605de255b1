# h34_pow_bomb.py (hostile sandbox test)
# tries: 10**10**10 (an integer of 33 billion bits)
# expect: runtime ProgramResourceError: bits
async def execute_query(image_filename):
    return 10**10**10
