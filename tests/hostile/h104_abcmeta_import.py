# h104_abcmeta_import.py (hostile sandbox test)
# tries: from typing import ABCMeta
# expect: static SandboxViolation: cannot be imported from typing
from typing import ABCMeta


async def execute_query(image_filename):
    return str(ABCMeta("X", (), {}))
