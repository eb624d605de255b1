# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/refcoco.prompt, line 444; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# white and yellow pants
def execute_command(image) -> ImagePatch:
    # Return the person
    image_patch = ImagePatch(image)
    # Clothing always requires returning the person
    person_patches = image_patch.find("person")
    person_patch = best_image_match(person_patches, ["white pants", "yellow pants"])
    # Remember: return the person
    return person_patch
