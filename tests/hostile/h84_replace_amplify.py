# h84_replace_amplify.py (hostile sandbox test)
# tries: replace every character of 100 kB with 100 kB (10 GB)
# expect: runtime ProgramResourceError: str.replace() would make a string
async def execute_query(image_filename):
    text = "a" * 100_000
    return len(text.replace("a", text))
