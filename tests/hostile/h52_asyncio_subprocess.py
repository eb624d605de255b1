# h52_asyncio_subprocess.py (hostile sandbox test)
# tries: asyncio.create_subprocess_shell
# expect: runtime AttributeError: create_subprocess_shell
import asyncio


async def execute_query(image_filename):
    process = await asyncio.create_subprocess_shell("id")
    return await process.wait()
