# h101_update_wrapper_asyncio_sleep.py (hostile sandbox test)
# tries: update_wrapper with asyncio.sleep: the real asyncio, then create_subprocess_exec
# expect: runtime SandboxViolation: only the default attributes
import asyncio
import functools


async def execute_query(image_filename):
    async def f():
        pass
    functools.update_wrapper(f, asyncio.sleep, assigned=("__module__",), updated=("__dict__", "__globals__"))
    return "escaped"
