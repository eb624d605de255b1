# h69_nested_asyncio_run.py (hostile sandbox test)
# tries: asyncio.run inside the program (a second event loop)
# expect: runtime ProgramError: asyncio.run()
import asyncio


async def helper():
    return 1


async def execute_query(image_filename):
    return asyncio.run(helper())
