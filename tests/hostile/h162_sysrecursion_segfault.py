# h162_sysrecursion_segfault.py (hostile sandbox test)
# tries: raise the recursion limit and recurse until the C stack overflows
# expect: static SandboxViolation: import of 'sys' is not allowed
import sys


async def execute_query(image_filename):
    sys.setrecursionlimit(10**7)
    def down(n):
        return down(n + 1) + 1
    return down(0)
