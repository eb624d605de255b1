# shape: accumulator (string)
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    text = ""
    for car in cars:
        text += car.simple_query("What color?")
    return text
