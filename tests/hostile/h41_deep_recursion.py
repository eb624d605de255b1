# h41_deep_recursion.py (hostile sandbox test)
# tries: unbounded recursion
# expect: runtime ProgramResourceError: recursion
def down(n):
    return down(n + 1)


async def execute_query(image_filename):
    return down(0)
