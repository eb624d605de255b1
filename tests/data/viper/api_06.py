# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 166 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image) -> str:
    image_patch = ImagePatch(image)
    foo_patches = image_patch.find("foo")
    foo_patch = foo_patches[0]
    return foo_patch.simple_query("What is the color?")
