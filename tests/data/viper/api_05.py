# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 158 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image) -> str:
    image_patch = ImagePatch(image)
    baz_patches = image_patch.find("baz")
    for baz_patch in baz_patches:
        if not baz_patch.verify_property("baz", "fredding"):
            return baz_patch.simple_query("What is this baz?")
