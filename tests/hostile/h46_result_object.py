# h46_result_object.py (hostile sandbox test)
# tries: return an instance of a program class
# expect: runtime ProgramError: result is not JSON-serialisable: Thing
class Thing:
    pass


async def execute_query(image_filename):
    return Thing()
