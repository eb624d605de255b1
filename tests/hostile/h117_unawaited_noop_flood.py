# h117_unawaited_noop_flood.py (hostile sandbox test)
# tries: un-awaited noop calls left sleeping on the pool after the task returns
# expect: runtime ProgramTimeoutError: wall-clock limit
import asyncio
import hermod


async def execute_query(image_filename):
    for _ in range(4):
        asyncio.create_task(hermod.call("noop", sleep_ms=60000))
    await asyncio.sleep(10)  # the deadline ends it; the un-awaited calls are cancelled
    return "returned late"
