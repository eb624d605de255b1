# h97_math_prod_bomb.py (hostile sandbox test)
# tries: math.prod over a million factors: a huge integer built in C
# expect: runtime ProgramResourceError: math.prod would make an integer
import math


async def execute_query(image_filename):
    return math.prod(range(1, 1_000_000)) % 7
