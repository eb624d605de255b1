# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/refcoco.prompt, line 327; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# more visible chair
def execute_command(image) -> ImagePatch:
    # Return the chair
    image_patch = ImagePatch(image)
    # Remember: return the chair
    return image_patch.find("chair")[0]
