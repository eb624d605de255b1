# h72_json_submodule.py (hostile sandbox test)
# tries: from json import decoder (a real module via the import fallback)
# expect: static SandboxViolation: cannot be imported from json
from json import decoder


async def execute_query(image_filename):
    return str(decoder)
