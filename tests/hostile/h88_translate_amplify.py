# h88_translate_amplify.py (hostile sandbox test)
# tries: str.translate mapping each char to 1 MB
# expect: runtime ProgramResourceError: str.translate() would make a string
async def execute_query(image_filename):
    text = "a" * 100_000
    return len(text.translate({97: "b" * 1_000_000}))
