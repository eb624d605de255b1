# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 96 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image)->str:
    image_patch = ImagePatch(image)
    is_foo = image_patch.exists("foo")
    is_garply_bar = image_patch.exists("garply bar")
    return bool_to_yesno(is_foo and is_garply_bar)
