# h89_to_bytes.py (hostile sandbox test)
# tries: (1).to_bytes(10**10): a 10 GB bytes object
# expect: runtime ProgramResourceError: int.to_bytes() would make a string
async def execute_query(image_filename):
    return len((1).to_bytes(10**10, "big"))
