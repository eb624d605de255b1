# h28_infinite_loop.py (hostile sandbox test)
# tries: while True: pass on the event loop thread
# expect: runtime ProgramTimeoutError: wall-clock limit
async def execute_query(image_filename):
    while True:
        pass
