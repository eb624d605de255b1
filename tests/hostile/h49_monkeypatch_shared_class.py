# h49_monkeypatch_shared_class.py (hostile sandbox test)
# tries: replace a method of a class shared by every task
# expect: runtime SandboxViolation: setting attribute 'most_common' of class Counter
import collections


async def execute_query(image_filename):
    collections.Counter.most_common = None
