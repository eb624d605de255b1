# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/refcoco.prompt, line 427; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# foo to bottom left
def execute_command(image) -> ImagePatch:
    # Return the foo
    image_patch = ImagePatch(image)
    foo_patches = image_patch.find("foo")
    lowermost_coordinate = min([patch.vertical_center for patch in foo_patches])
    foo_patches_bottom = [patch for patch in foo_patches if distance(patch.vertical_center, lowermost_coordinate) < 100]
    if len(foo_patches_bottom) == 0:
        foo_patches_bottom = foo_patches
    elif len(foo_patches_bottom) == 1:
        return foo_patches_bottom[0]
    foo_patches_bottom.sort(key=lambda foo: foo.horizontal_center)
    foo_patch = foo_patches_bottom[0]
    # Remember: return the foo
    return foo_patch
