# shape: sort with a plain key (distance)
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    quxes = image_patch.find("qux")
    foos = image_patch.find("foo")
    if not foos:
        return "none"
    foo = foos[0]
    quxes.sort(key=lambda x: distance(x, foo))
    return len(quxes)
