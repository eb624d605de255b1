# h81_fstring_width.py (hostile sandbox test)
# tries: an f-string field padded to 10 billion characters
# expect: runtime ProgramResourceError: format() would make a string
async def execute_query(image_filename):
    width = 10**10
    return len(f"{image_filename!r:>{width}}")
