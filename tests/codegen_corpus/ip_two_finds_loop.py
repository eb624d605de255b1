# shape: two finds then loop
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cats = image_patch.find("cat")
    dogs = image_patch.find("dog")
    n = 0
    for cat in cats:
        if cat.verify_property("cat", "sleeping"):
            n += 1
    return n + len(dogs)
