# h78_infinite_sync_loop.py (hostile sandbox test)
# tries: while True in a sync program (worker thread)
# expect: runtime ProgramTimeoutError: wall-clock limit
def execute_command(image):
    n = 0
    while True:
        n += 1
