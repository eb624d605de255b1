# h42_threading.py (hostile sandbox test)
# tries: start a thread that outlives the task
# expect: static SandboxViolation: import of 'threading'
import threading


async def execute_query(image_filename):
    threading.Thread(target=lambda: None).start()
