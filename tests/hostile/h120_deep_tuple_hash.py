# h120_deep_tuple_hash.py (hostile sandbox test)
# tries: hash() of a 10**6-deep nested tuple recurses in C until the stack overflows
# expect: jail ProgramResourceError: SIGSEGV
async def execute_query(image_filename):
    nested = ()
    for _ in range(10**6):
        nested = (nested,)
    return hash(nested)
