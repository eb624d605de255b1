# h85_json_indent.py (hostile sandbox test)
# tries: json.dumps(indent=10**10) builds the indent string inside json
# expect: runtime ProgramResourceError: indent is over the limit
import json


async def execute_query(image_filename):
    return len(json.dumps([1], indent=10**10))
