# shape: sort with a key
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    bars = image_patch.find("bar")
    bars.sort(key=lambda bar: bar.compute_depth(), reverse=True)
    return len(bars)
