# h87_product_repeat.py (hostile sandbox test)
# tries: itertools.product(repeat=10**9) copies its pools before yielding
# expect: runtime ProgramResourceError: itertools.product(repeat=...)
import itertools


async def execute_query(image_filename):
    return next(itertools.product([1], repeat=10**9))
