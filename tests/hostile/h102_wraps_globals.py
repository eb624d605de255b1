# h102_wraps_globals.py (hostile sandbox test)
# tries: functools.wraps(print, updated=('__globals__',)) as a decorator
# expect: runtime SandboxViolation: only the default attributes
import functools


async def execute_query(image_filename):
    @functools.wraps(print, updated=("__globals__",))
    def f():
        pass
    return "escaped"
