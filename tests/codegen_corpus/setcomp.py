# shape: set comprehension
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    qs = ["What color?", "What shape?"]
    answers = {image_patch.simple_query(q) for q in qs}
    return sorted(answers)
