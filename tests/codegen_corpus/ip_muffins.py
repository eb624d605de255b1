# shape: independent calls
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    muffins = image_patch.find("muffin")
    kids = image_patch.find("kid")
    if len(kids) == 0:
        return "no kids"
    return str(len(muffins) // len(kids))
