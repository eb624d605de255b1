# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/api.prompt, line 254 (a docstring example, '>>> ' removed); licence
# CC BY-NC 4.0 (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Otherwise unmodified.
def execute_command(image) -> str:
    image_patch = ImagePatch(image)
    building_patches = image_patch.find("building")
    building_patch = building_patches[0]
    building_name = building_patch.simple_query("What is the name of the building?")
    return building_patch.llm_query(f"What city is {building_name} in?", long_answer=False)
