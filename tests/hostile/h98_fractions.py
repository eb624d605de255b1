# h98_fractions.py (hostile sandbox test)
# tries: fractions.Fraction('1e999999999') computes 10**999999999
# expect: static SandboxViolation: import of 'fractions'
from fractions import Fraction


async def execute_query(image_filename):
    return float(Fraction("1e999999999"))
