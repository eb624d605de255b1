# h129_multiprocessing_process.py (hostile sandbox test)
# tries: multiprocessing.Process
# expect: static SandboxViolation: import of 'multiprocessing' is not allowed
import multiprocessing


def work():
    open("/run/dicec-hostile-spawned", "w").write("mp")


def execute_command(image):
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
    return p.exitcode
