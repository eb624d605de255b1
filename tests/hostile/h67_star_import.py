# h67_star_import.py (hostile sandbox test)
# tries: from math import * (hides what is imported)
# expect: static SandboxViolation: import *
from math import *


async def execute_query(image_filename):
    return pi
