# shape: nested loops, early exit
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    men = image_patch.find("man")
    if len(men) == 0:
        return image_patch.simple_query("Is there a backpack?")
    man = men[0]
    bags = image_patch.find("backpack")
    for bag in bags:
        if bag.horizontal_center > man.horizontal_center:
            return "yes"
    return "no"
