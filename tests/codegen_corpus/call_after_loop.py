# shape: independent call after a loop
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    for car in cars:
        print(car.simple_query("What color?"))
    weather = image_patch.simple_query("What is the weather?")
    return weather
