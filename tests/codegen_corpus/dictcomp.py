# shape: dict comprehension
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    names = ["cat", "dog", "car"]
    found = {name: image_patch.exists(name) for name in names}
    return found
