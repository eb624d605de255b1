# h61_sync_model_call_on_loop.py (hostile sandbox test)
# tries: ImagePatch.compute_depth() in a lambda inside async code
# expect: runtime ProgramError: called synchronously on the event loop
async def execute_command(image):
    patch = ImagePatch(image)
    patches = [patch, patch.crop(0, 0, 4, 4)]
    closest = min(patches, key=lambda p: p.compute_depth())
    return closest.width
