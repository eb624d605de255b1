# h66_relative_import.py (hostile sandbox test)
# tries: a relative import
# expect: static SandboxViolation: relative imports
from . import secrets


async def execute_query(image_filename):
    return secrets
