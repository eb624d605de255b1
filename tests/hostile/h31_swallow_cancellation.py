# h31_swallow_cancellation.py (hostile sandbox test)
# tries: swallow the cancellation sent at the deadline and wait forever
# expect: runtime ProgramTimeoutError: wall-clock limit
import asyncio


async def execute_query(image_filename):
    event = asyncio.Event()
    while True:
        try:
            await event.wait()
        except BaseException:
            pass
