# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 311 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image):
    image_patch = ImagePatch(image)
    qux_patches = image_patch.find('qux')
    foo_patches = image_patch.find('foo')
    foo_patch = foo_patches[0]
    qux_patches.sort(key=lambda x: distance(x, foo_patch))
    return qux_patches[0]
