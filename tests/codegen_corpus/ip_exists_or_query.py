# shape: condition then call
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    if image_patch.exists("dog"):
        return image_patch.simple_query("What breed is the dog?")
    return "no dog"
