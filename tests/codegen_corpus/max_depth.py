# shape: max with a key
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    things = image_patch.find("tree")
    if not things:
        return 0
    far = max(things, key=lambda t: t.compute_depth())
    return far.horizontal_center
