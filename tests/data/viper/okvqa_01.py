# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/okvqa.prompt, line 55; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# What kind of flowers are these?
def execute_command(image)->str:
    # The question is direct perception, so we can just ask the image
    # There is no additional information needed.
    image = ImagePatch(image)
    direct_guess = image.simple_query("What kind of flowers are these?")
    return direct_guess
