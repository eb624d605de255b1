# shape: sort with a key then query
# minimal-rounds: 3
def execute_command(image):
    image_patch = ImagePatch(image)
    bars = image_patch.find("bar")
    bars.sort(key=lambda bar: bar.compute_depth())
    if not bars:
        return "none"
    return bars[0].simple_query("What is it?")
