# h86_random_choices_k.py (hostile sandbox test)
# tries: random.choices(k=10**10): a 80 GB list made in one call
# expect: runtime ProgramResourceError: random.choices(k=...)
import random


async def execute_query(image_filename):
    return len(random.choices([1, 2], k=10**10))
