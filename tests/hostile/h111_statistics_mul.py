# h111_statistics_mul.py (hostile sandbox test)
# tries: statistics.mul('x', 3 * 10**9) builds a 3 GB string past the * guard
# expect: runtime AttributeError: mul
import statistics


async def execute_query(image_filename):
    return len(statistics.mul("x", 3 * 10**9))
