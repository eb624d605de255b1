# h39_print_flood.py (hostile sandbox test)
# tries: print in an endless loop
# expect: runtime ProgramResourceError: output limit
async def execute_query(image_filename):
    while True:
        print("spam spam spam")
