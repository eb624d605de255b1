# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 194 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image)->ImagePatch:
    image_patch = ImagePatch(image)
    bar_patches = image_patch.find("bar")
    bar_patches.sort(key=lambda bar: bar.compute_depth())
    return bar_patches[-1]
