# h35_list_range.py (hostile sandbox test)
# tries: list(range(10**10)) consumed in C
# expect: runtime ProgramResourceError: memory
async def execute_query(image_filename):
    return len(list(range(10**10)))
