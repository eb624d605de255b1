# shape: accumulator (sum)
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    total = 0.0
    for car in cars:
        total += car.compute_depth()
    return total
