# shape: min key then two queries
# minimal-rounds: 4
def execute_command(image):
    image_patch = ImagePatch(image)
    litter = image_patch.find("litter")
    if not litter:
        return "No litter found in the image."
    closest = min(litter, key=lambda patch: patch.compute_depth())
    depth = closest.compute_depth()
    if depth < 5:
        name = closest.simple_query("What is this?")
        material = closest.simple_query("What material is this made of?")
        return f"{name} {material} {depth}"
    return "far"
