# h82_str_ljust.py (hostile sandbox test)
# tries: 'a'.ljust(10**10)
# expect: runtime ProgramResourceError: str.ljust() would make a string
def execute_command(image):
    return len("a".ljust(10**10))
