# h159_timer_thread_after_task.py (hostile sandbox test)
# tries: a threading.Timer that writes a file 2 s after the task returned
# expect: static SandboxViolation: import of 'threading' is not allowed
import threading


def execute_command(image):
    threading.Timer(2.0, lambda: open("/run/dicec-hostile-written", "w").write("late")).start()
    return "returned"
