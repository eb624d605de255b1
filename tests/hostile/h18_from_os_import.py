# h18_from_os_import.py (hostile sandbox test)
# tries: from os import system
# expect: static SandboxViolation: import of 'os'
from os import system


async def execute_query(image_filename):
    return system("id")
