# h106_namedtuple_meta.py (hostile sandbox test)
# tries: typing.NamedTupleMeta is another class factory
# expect: runtime AttributeError: NamedTupleMeta
import typing


async def execute_query(image_filename):
    return str(typing.NamedTupleMeta("X", (), {"__del__": print}))
