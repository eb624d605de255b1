# h44_result_set.py (hostile sandbox test)
# tries: return a set (not JSON)
# expect: runtime ProgramError: result is not JSON-serialisable: set
async def execute_query(image_filename):
    return {1, 2, 3}
