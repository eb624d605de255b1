# h19_importlib.py (hostile sandbox test)
# tries: importlib.import_module('subprocess')
# expect: static SandboxViolation: import of 'importlib'
async def execute_query(image_filename):
    import importlib
    return importlib.import_module("subprocess").run(["id"])
