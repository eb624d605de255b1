# shape: independent calls
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    a = image_patch.simple_query("What is the weather?")
    b = image_patch.simple_query("What time of day is it?")
    c = image_patch.compute_depth()
    return f"{a} {b} {c}"
