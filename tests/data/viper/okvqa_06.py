# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/okvqa.prompt, line 116; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# Should you bake or roast this item?
def execute_command(image)->str:
    # The question is not direct perception, so we need to ask the image for more information
    # Salient information: what is this item?
    # Question contains "or", so the answer must be "bake" or "roast"
    image = ImagePatch(image)
    guesses = []
    item = image.simple_query("What is this item?")
    external_knowledge_query = "Should you bake or roast {}?".format(item)
    step_by_step_guess = llm_query(external_knowledge_query)
    guesses.append("what is this item is {}".format(item) + ", so " + step_by_step_guess)
    direct_guess = image.simple_query("Should you bake or roast this item?")
    guesses.append(direct_guess)
    return process_guesses("Should you bake or roast this item?", guesses)
