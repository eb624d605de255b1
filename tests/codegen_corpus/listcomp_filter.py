# shape: list comprehension with a call filter
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    red = [car for car in cars if car.verify_property("car", "red")]
    return len(red)
