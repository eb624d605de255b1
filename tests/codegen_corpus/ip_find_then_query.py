# shape: find then query
# minimal-rounds: 2
def execute_command(image):
    image_patch = ImagePatch(image)
    people = image_patch.find("person")
    if not people:
        return "nobody"
    return people[0].simple_query("What is the person wearing?")
