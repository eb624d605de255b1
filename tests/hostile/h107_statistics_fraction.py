# h107_statistics_fraction.py (hostile sandbox test)
# tries: statistics re-exports Fraction: Fraction('1e999999999') computes 10**999999999 in C
# expect: static SandboxViolation: cannot be imported from statistics
from statistics import Fraction


async def execute_query(image_filename):
    return str(Fraction("1e999999999"))
