# shape: sorted with a key
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    things = image_patch.find("cup")
    ordered = sorted(things, key=lambda t: t.compute_depth())
    return [t.horizontal_center for t in ordered]
