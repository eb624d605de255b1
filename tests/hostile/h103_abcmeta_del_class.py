# h103_abcmeta_del_class.py (hostile sandbox test)
# tries: typing.ABCMeta(name, bases, ns) builds a class with __del__ and __reduce__
# expect: runtime AttributeError: ABCMeta
import typing


async def execute_query(image_filename):
    def finaliser(self):
        print("after the task")
    cls = typing.ABCMeta("Evil", (), {"__del__": finaliser})
    return str(cls())
