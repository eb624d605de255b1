# shape: list comprehension
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    return [car.simple_query("What color?") for car in cars]
