# shape: two comprehensions
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    names = ["cat", "dog"]
    found = {n: image_patch.exists(n) for n in names}
    colors = {image_patch.simple_query(f"What color is the {n}?") for n in names}
    return found, sorted(colors)
