# shape: best_text_match
# minimal-rounds: 3
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    if not cars:
        return "none"
    return cars[0].best_text_match(["red", "blue"])
