# h48_result_imagepatch.py (hostile sandbox test)
# tries: return an ImagePatch (returned as its box) carrying a non-JSON object in its box
# expect: runtime ProgramError: result is not JSON-serialisable: set
def execute_command(image):
    patch = ImagePatch(image)
    patch.left = {1, 2}
    return patch
