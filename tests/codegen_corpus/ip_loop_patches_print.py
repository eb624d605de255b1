# shape: loop over patches
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    for car in cars:
        print(car.simple_query("What color is the car?"))
    return len(cars)
