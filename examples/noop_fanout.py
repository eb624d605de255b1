# A benchmark program: ten independent noop calls gathered, then their sum.
# It measures the orchestrator and dispatch, not any model.
import asyncio

import hermod


async def execute_query(image_filename):
    replies = await asyncio.gather(*(hermod.call("noop", value=i) for i in range(10)))
    return sum(reply["value"] for reply in replies)
