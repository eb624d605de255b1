# h56_del_method.py (hostile sandbox test)
# tries: __del__ runs later, outside the task's guard
# expect: static SandboxViolation: defining '__del__'
class Ghost:
    def __del__(self):
        while True:
            pass


async def execute_query(image_filename):
    Ghost()
