# h105_abcmeta_copy_setattr.py (hostile sandbox test)
# tries: a class made by ABCMeta with __reduce__, then copy.copy runs setattr on a shared module
# expect: runtime AttributeError: ABCMeta
import copy
import re
import typing


async def execute_query(image_filename):
    def reduce(self):
        return (copy.copy, (re,), {"search": len})
    cls = typing.ABCMeta("Evil", (), {"__reduce__": reduce})
    copy.copy(cls())
    return "replaced re.search for every later task"
