# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/okvqa.prompt, line 85; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# Is this the mountains or desert?
def execute_command(image)->str:
    # The question is not direct perception, so we need to ask the image for more information
    # Salient information: is this the mountains? is this the desert?
    # Question contains "or", so the answer must be "mountains" or "desert"
    image = ImagePatch(image)
    guesses = []
    mountains = image.simple_query("Is this the mountains?")
    desert = image.simple_query("Is this the desert?")
    if mountains == "yes":
        guesses.append("this is the mountains")
    if desert == "yes":
        guesses.append("this is the desert")
    direct_guess = image.simple_query("Is this the mountains or desert?")
    guesses.append(direct_guess)
    return process_guesses("Is this the mountains or desert?", guesses)
