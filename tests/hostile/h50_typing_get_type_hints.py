# h50_typing_get_type_hints.py (hostile sandbox test)
# tries: typing.get_type_hints evaluates strings with real builtins
# expect: static SandboxViolation: cannot be imported from typing
from typing import get_type_hints


class Box:
    payload: "print(1)"


async def execute_query(image_filename):
    return str(get_type_hints(Box))
