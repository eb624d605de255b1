# h16_string_formatter.py (hostile sandbox test)
# tries: string.Formatter().vformat reads attributes by name
# expect: static SandboxViolation: cannot be imported from string
from string import Formatter


async def execute_query(image_filename):
    return Formatter().vformat("{0.__class__}", (1,), {})
