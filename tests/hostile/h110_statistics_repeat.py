# h110_statistics_repeat.py (hostile sandbox test)
# tries: any(statistics.repeat(False)): a raw itertools.repeat loops forever in C
# expect: runtime AttributeError: repeat
import statistics


async def execute_query(image_filename):
    return any(statistics.repeat(False))
