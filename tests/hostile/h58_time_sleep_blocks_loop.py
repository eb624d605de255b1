# h58_time_sleep_blocks_loop.py (hostile sandbox test)
# tries: time.sleep in async code (blocks every task on the loop)
# expect: runtime ProgramError: time.sleep() would block
import time


async def execute_query(image_filename):
    time.sleep(100)
