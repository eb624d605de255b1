# h83_join_amplify.py (hostile sandbox test)
# tries: join 100,000 references to one 100 kB string (10 GB)
# expect: runtime ProgramResourceError: str.join() would make a string
async def execute_query(image_filename):
    chunk = "a" * 100_000
    return len("".join([chunk] * 100_000))
