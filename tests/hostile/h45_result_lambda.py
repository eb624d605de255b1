# h45_result_lambda.py (hostile sandbox test)
# tries: return a function
# expect: runtime ProgramError: result is not JSON-serialisable: function
async def execute_query(image_filename):
    return lambda: 1
