# h100_update_wrapper_range_builtins.py (hostile sandbox test)
# tries: update_wrapper with range: the real builtins module reaches exec
# expect: runtime SandboxViolation: only the default attributes
import functools


async def execute_query(image_filename):
    def f():
        pass
    functools.update_wrapper(f, range, (), ("__globals__",))
    return "escaped"
