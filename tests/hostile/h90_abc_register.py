# h90_abc_register.py (hostile sandbox test)
# tries: collections.abc.Sequence.register: changes isinstance() process-wide
# expect: static SandboxViolation: 'register'
import collections.abc


class Fake:
    pass


async def execute_query(image_filename):
    collections.abc.Sequence.register(Fake)
