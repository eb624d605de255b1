# h114_regex_sub_empty_bomb.py (hostile sandbox test)
# tries: re.sub('', long, text) inserts a long string between every character
# expect: runtime ProgramResourceError: regular expression result
import re


async def execute_query(image_filename):
    return len(re.sub("", "y" * 5000, "x" * 200000))
