# h96_model_method_alias_on_loop.py (hostile sandbox test)
# tries: pass patch.compute_depth as a callback in async code (would block the loop)
# expect: runtime ProgramError: called synchronously on the event loop
async def execute_command(image):
    patch = ImagePatch(image)
    measure = patch.compute_depth
    return measure()
