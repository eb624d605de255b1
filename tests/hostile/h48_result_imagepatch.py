# h48_result_imagepatch.py (hostile sandbox test)
# tries: return an ImagePatch
# expect: runtime ProgramError: result is not JSON-serialisable: ImagePatch
def execute_command(image):
    return ImagePatch(image)
