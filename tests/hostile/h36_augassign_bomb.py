# h36_augassign_bomb.py (hostile sandbox test)
# tries: s *= 10**10 through augmented assignment
# expect: runtime ProgramResourceError: sequence repetition
async def execute_query(image_filename):
    s = "ab"
    s *= 10**10
    return len(s)
