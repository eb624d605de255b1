# h30_swallow_timeout.py (hostile sandbox test)
# tries: catch the timeout error and return a normal value
# expect: runtime ProgramTimeoutError: wall-clock limit
async def execute_query(image_filename):
    try:
        while True:
            pass
    except Exception:
        return "I am fine"
