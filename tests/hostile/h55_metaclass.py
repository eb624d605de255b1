# h55_metaclass.py (hostile sandbox test)
# tries: a class with a metaclass keyword
# expect: static SandboxViolation: class keywords
class Meta:
    pass


class Thing(metaclass=Meta):
    pass


async def execute_query(image_filename):
    return 1
