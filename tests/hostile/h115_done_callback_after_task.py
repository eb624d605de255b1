# h115_done_callback_after_task.py (hostile sandbox test)
# tries: a done-callback that keeps working after the task returned
# expect: runtime ProgramTimeoutError|ProgramResourceError|SandboxViolation|ProgramError: 
import asyncio


async def execute_query(image_filename):
    async def slow():
        await asyncio.sleep(30)
    task = asyncio.create_task(slow())
    task.add_done_callback(lambda t: print("after the end"))
    await asyncio.sleep(5)
    return "done"
