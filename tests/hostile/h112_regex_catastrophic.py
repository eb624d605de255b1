# h112_regex_catastrophic.py (hostile sandbox test)
# tries: a catastrophic regex backtracks for hours in one C call
# expect: runtime ProgramResourceError: time limit
import re


async def execute_query(image_filename):
    return bool(re.match(r"(a|aa)+$", "a" * 64 + "b"))
