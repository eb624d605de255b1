# h38_memory_growth.py (hostile sandbox test)
# tries: keep appending 1 MB strings until the machine runs out
# expect: runtime ProgramResourceError: memory limit
async def execute_query(image_filename):
    hoard = []
    while True:
        hoard.append(" " * 10**6)
