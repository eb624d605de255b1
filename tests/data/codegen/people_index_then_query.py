def execute_command(image):
    image_patch = ImagePatch(image)
    people = image_patch.find("person")
    person = people[0]
    answer = image_patch.simple_query("Is it sunny?")
    return person.simple_query("What is the person wearing?") + answer
