# h76_swallow_memory_error.py (hostile sandbox test)
# tries: catch the memory refusal and return normally
# expect: runtime ProgramResourceError: sequence repetition
async def execute_query(image_filename):
    try:
        return len("a" * 10**12)
    except Exception:
        return "fine"
