# h60_itertools_count.py (hostile sandbox test)
# tries: sum(itertools.count()): endless C-level loop
# expect: runtime ProgramTimeoutError: wall-clock limit
import itertools


async def execute_query(image_filename):
    return sum(itertools.count())
