# h128_asyncio_subprocess.py (hostile sandbox test)
# tries: asyncio.create_subprocess_exec through the real asyncio
# expect: static SandboxViolation: import of 'asyncio.subprocess' is not allowed
import asyncio.subprocess


async def execute_query(image_filename):
    proc = await asyncio.subprocess.create_subprocess_exec("/bin/touch", "/run/dicec-hostile-spawned")
    return await proc.wait()
