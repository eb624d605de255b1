"""Which functions a program can call, read from its source (for the batch preflight and
the watch on live pools): `hermod.call("name", ...)` with a literal name, and the model
methods of ImagePatch (`patch.find(...)`, `patch.find_async(...)`) in programs that use it.
"""

from __future__ import annotations

import ast

from dicec.errors import ProgramError
from orchestrator.program.imagepatch import METHOD_FUNCTIONS

ASYNC_SUFFIX = "_async"


def functions_called(source: str, filename: str = "<program>") -> set[str]:
    """The function names a program can call (an over-approximation: every branch)."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ProgramError(f"{filename} line {exc.lineno}: does not parse: {exc.msg}") from None
    uses_patches = any(isinstance(n, ast.Name) and n.id == "ImagePatch" for n in ast.walk(tree))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if _is_hermod_call(node) and node.args and isinstance(node.args[0], ast.Constant):
            if isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
        elif uses_patches:
            method = node.func.attr.removesuffix(ASYNC_SUFFIX)
            names.update(METHOD_FUNCTIONS.get(method, ()))
    return names


def _is_hermod_call(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "call"
        and isinstance(func.value, ast.Name)
        and func.value.id == "hermod"
    )
