# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 270 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image) -> str:
    image_patch = ImagePatch(image)
    object_patches = image_patch.find("object")
    object_patch = object_patches[0]
    object_name = object_patch.simple_query("What is the name of the object?")
    return object_patch.llm_query(f"What is the history behind {object_name}?", long_answer=True)
