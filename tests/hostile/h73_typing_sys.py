# h73_typing_sys.py (hostile sandbox test)
# tries: typing.sys (a module that typing imported)
# expect: runtime AttributeError: has no attribute 'sys'
import typing


async def execute_query(image_filename):
    return typing.sys.exit(0)
