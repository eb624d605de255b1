# h121_foreign_image_ref.py (hostile sandbox test)
# tries: a call naming another task's image by its digest
# expect: jail CallValidationError: not this task's
import hermod


async def execute_query(image_filename):
    return await hermod.call("blip", image="img:" + "ab" * 32, question="whose?")
