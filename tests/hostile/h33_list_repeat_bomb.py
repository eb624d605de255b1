# h33_list_repeat_bomb.py (hostile sandbox test)
# tries: [0] * 10**10 (80 GB list)
# expect: runtime ProgramResourceError: sequence repetition
def execute_command(image):
    return len([0] * 10**10)
