# h59_iter_sentinel.py (hostile sandbox test)
# tries: list(iter(int, 1)): an endless iterator consumed in C
# expect: runtime ProgramResourceError|ProgramTimeoutError: limit
def execute_command(image):
    return len(list(iter(int, 1)))
