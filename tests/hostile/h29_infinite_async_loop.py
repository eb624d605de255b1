# h29_infinite_async_loop.py (hostile sandbox test)
# tries: an endless loop that yields to the event loop
# expect: runtime ProgramTimeoutError: wall-clock limit
import asyncio


async def execute_query(image_filename):
    while True:
        await asyncio.sleep(0)
