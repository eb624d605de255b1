# shape: accumulator (count under if)
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    count = 0
    for car in cars:
        if car.verify_property("car", "red"):
            count += 1
    return count
