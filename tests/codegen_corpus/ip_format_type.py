# shape: str.format and type
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    if not cars:
        return "none"
    color = cars[0].simple_query("What color?")
    return "The car is {} ({})".format(color, str(type(color)))
