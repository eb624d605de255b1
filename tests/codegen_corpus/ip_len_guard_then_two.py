# shape: guard then independent
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    if len(cars) == 0:
        return "no car"
    car = cars[0]
    color = car.simple_query("What color is the car?")
    brand = car.simple_query("What brand is the car?")
    return f"{color} {brand}"
