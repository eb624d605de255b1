# shape: early exit in a loop
# minimal-rounds: 4
def execute_command(image):
    image_patch = ImagePatch(image)
    toys = image_patch.find("toy")
    for toy in toys:
        if toy.simple_query("Is the toy wearing a shirt?") == "yes":
            return toy.simple_query("What toy is it?")
    return "none"
