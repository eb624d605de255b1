# h92_evil_exception_str.py (hostile sandbox test)
# tries: raise an exception whose __str__ loops when the caller formats it
# expect: runtime ProgramError: program raised Trap
class Trap(Exception):
    def __str__(self):
        while True:
            pass


async def execute_query(image_filename):
    raise Trap("boom")
