# h93_evil_exception_arg.py (hostile sandbox test)
# tries: raise ValueError(obj) where str(obj) loops
# expect: runtime ValueError: <Bomb object>
class Bomb:
    def __str__(self):
        while True:
            pass

    def __repr__(self):
        while True:
            pass


def execute_command(image):
    raise ValueError(Bomb())
