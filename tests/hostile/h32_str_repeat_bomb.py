# h32_str_repeat_bomb.py (hostile sandbox test)
# tries: 'a' * 10**10 (10 GB string)
# expect: runtime ProgramResourceError: sequence repetition
async def execute_query(image_filename):
    return len("a" * 10**10)
