# h53_task_get_loop.py (hostile sandbox test)
# tries: a Task's event loop, to run_in_executor / subprocess_exec
# expect: static SandboxViolation: 'get_loop'
import asyncio


async def helper():
    return 1


async def execute_query(image_filename):
    task = asyncio.create_task(helper())
    loop = task.get_loop()
    return await loop.subprocess_exec(lambda: None, "id")
