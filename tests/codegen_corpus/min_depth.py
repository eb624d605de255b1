# shape: min with a key
# minimal-rounds: 3
def execute_command(image):
    image_patch = ImagePatch(image)
    things = image_patch.find("litter")
    if not things:
        return "none"
    closest = min(things, key=lambda t: t.compute_depth())
    return closest.simple_query("What is this?")
