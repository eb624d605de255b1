# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/okvqa.prompt, line 77; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# What are these children doing?
def execute_command(image)->str:
    # The question is direct perception, so we can just ask the image
    # Salient information: what are these children doing?
    image = ImagePatch(image)
    direct_guess = image.simple_query("What are these children watching?")
    return direct_guess
