# h43_signal.py (hostile sandbox test)
# tries: install a signal handler / send signals
# expect: static SandboxViolation: import of 'signal'
import signal


async def execute_query(image_filename):
    signal.alarm(1)
