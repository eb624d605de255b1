# From ViperGPT (https://github.com/cvlab-columbia/viper, commit 09fe346),
# prompts/benchmarks/okvqa.prompt, line 63; licence CC BY-NC 4.0
# (Surís, Menon, Vondrick: ViperGPT, ICCV 2023). Unmodified.
# What do these people on the bikes normally write and give out?
def execute_command(image)->str:
    # The question is not direct perception, so we need to ask the image for more information
    # What information do we need? We need to know who these people on the bikes are.
    image = ImagePatch(image)
    guesses = []
    people_on_bikes = image.simple_query("Who are these people on the bikes?")
    external_knowledge_query = "What do {} normally write and give out?".format(people_on_bikes)
    step_by_step_guess = llm_query(external_knowledge_query)
    guesses.append("these people on the bikes are {}".format(people_on_bikes) + ", so " + step_by_step_guess)
    direct_guess = image.simple_query("What do these people on the bikes normally write and give out?")
    guesses.append(direct_guess)
    return process_guesses("What do these people on the bikes normally write and give out?", guesses)
