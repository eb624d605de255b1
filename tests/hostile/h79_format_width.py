# h79_format_width.py (hostile sandbox test)
# tries: format(1, '>10000000000'): a 10 GB string made in one C call
# expect: runtime ProgramResourceError: format() would make a string
async def execute_query(image_filename):
    return len(format(1, ">10000000000"))
