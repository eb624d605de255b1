# shape: sort with a plain key
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    bars = image_patch.find("bar")
    bars.sort(key=lambda x: x.horizontal_center)
    return [b.left for b in bars]
