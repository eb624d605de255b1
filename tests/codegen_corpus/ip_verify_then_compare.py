# shape: independent then compare
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    a = image_patch.verify_property("car", "red")
    b = image_patch.verify_property("car", "blue")
    c = image_patch.verify_property("car", "green")
    return [a, b, c].count(True)
