# h12_exec_compile.py (hostile sandbox test)
# tries: exec(compile(...)) of an import
# expect: static SandboxViolation: 'exec'
async def execute_query(image_filename):
    exec(compile("import os", "x", "exec"))
