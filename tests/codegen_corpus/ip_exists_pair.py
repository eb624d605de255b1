# shape: independent calls
# minimal-rounds: 1
def execute_command(image):
    image_patch = ImagePatch(image)
    is_cat = image_patch.exists("cat")
    is_dog = image_patch.exists("dog")
    return bool_to_yesno(is_cat and is_dog)
