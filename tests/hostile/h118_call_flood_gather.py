# h118_call_flood_gather.py (hostile sandbox test)
# tries: 20,000 calls in one gather
# expect: runtime ProgramResourceError: budget
import asyncio
import hermod


async def execute_query(image_filename):
    results = await asyncio.gather(*[hermod.call("noop", value=i) for i in range(20000)])
    return len(results)
