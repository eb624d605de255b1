# h116_finally_swallows_cancel.py (hostile sandbox test)
# tries: four nested finally blocks that await again when cancelled
# expect: runtime ProgramTimeoutError: wall-clock limit
import asyncio


async def execute_query(image_filename):
    try:
        try:
            try:
                try:
                    await asyncio.sleep(60)
                finally:
                    await asyncio.sleep(60)
            finally:
                await asyncio.sleep(60)
        finally:
            await asyncio.sleep(60)
    finally:
        await asyncio.sleep(60)
