# h74_dataclass_foreign.py (hostile sandbox test)
# tries: @dataclass applied to a shared library class (rewrites it)
# expect: runtime SandboxViolation: @dataclass may only be applied
import collections
import dataclasses


async def execute_query(image_filename):
    dataclasses.dataclass(collections.OrderedDict)
