# h160_daemon_thread_forever.py (hostile sandbox test)
# tries: a daemon thread that keeps burning CPU after the task
# expect: static SandboxViolation: import of 'threading' is not allowed
import threading


def execute_command(image):
    def spin():
        while True:
            pass
    threading.Thread(target=spin, daemon=True).start()
    return "returned"
