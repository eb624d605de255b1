# shape: loop over patches
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    out = []
    for car in cars:
        color = car.simple_query("What color?")
        red = car.verify_property("car", "red")
        out.append(f"{color}/{red}")
    return out
