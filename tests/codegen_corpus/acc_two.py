# shape: accumulator (two)
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    count = 0
    total = 0.0
    for car in cars:
        if car.verify_property("car", "damaged"):
            count += 1
        total += car.compute_depth()
    print(count)
    return count, total
