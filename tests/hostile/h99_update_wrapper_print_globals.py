# h99_update_wrapper_print_globals.py (hostile sandbox test)
# tries: functools.update_wrapper(f, print, updated=('__globals__',)) copies the runtime's module globals (os, sys) into the program
# expect: runtime SandboxViolation: only the default attributes
import functools


async def execute_query(image_filename):
    def f():
        pass
    functools.update_wrapper(f, print, assigned=(), updated=("__globals__",))
    return os.listdir("/")  # noqa: F821 - os arrives through the injected globals
