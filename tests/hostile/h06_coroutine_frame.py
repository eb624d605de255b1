# h06_coroutine_frame.py (hostile sandbox test)
# tries: coroutine cr_frame of a program coroutine
# expect: static SandboxViolation: 'cr_frame'
async def helper():
    return 1


async def execute_query(image_filename):
    coro = helper()
    frame = coro.cr_frame
    await coro
    return str(frame)
