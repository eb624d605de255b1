# h40_print_big_string.py (hostile sandbox test)
# tries: print one 10 MB string
# expect: runtime ProgramResourceError: output limit
def execute_command(image):
    print("x" * 10_000_000)
