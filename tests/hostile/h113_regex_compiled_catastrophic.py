# h113_regex_compiled_catastrophic.py (hostile sandbox test)
# tries: the same through a compiled pattern's method
# expect: runtime ProgramResourceError: time limit
import re


async def execute_query(image_filename):
    pattern = re.compile(r"(a|aa)+$")
    return [m.span() for m in pattern.finditer("a" * 64 + "b")]
