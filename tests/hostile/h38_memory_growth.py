# h38_memory_growth.py (hostile sandbox test)
# tries: keep appending 1 MB strings until the machine runs out
# expect: runtime ProgramResourceError: memory limit
# wall_s: 10
# (256 MB of page faults take ~0.2 s here; a loaded machine took past the 1 s default)
async def execute_query(image_filename):
    hoard = []
    while True:
        hoard.append(" " * 10**6)
