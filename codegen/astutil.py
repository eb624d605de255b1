"""Small AST helpers shared by the compiler passes: recognising calls, naming, marking."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable

from orchestrator.program.dialect import ASYNC_SUFFIX, ENTRY_POINTS, MODEL_FUNCTIONS, MODEL_METHODS

__all__ = [
    "ASYNC_SUFFIX",
    "ENTRY_POINTS",
    "MODEL_FUNCTIONS",
    "MODEL_METHODS",
]  # re-exported for the passes
# Set on nodes the compiler made, so later passes know they are pure by construction.
GENERATED = "dicec_generated"


def mark(node: ast.AST) -> ast.AST:
    setattr(node, GENERATED, True)
    return node


def is_generated(node: ast.AST) -> bool:
    return bool(getattr(node, GENERATED, False))


def is_hermod_call(node: ast.AST) -> bool:
    """`hermod.call(...)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "call"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hermod"
    )


def is_async_model_method_call(node: ast.AST) -> bool:
    """`patch.find_async(...)` and the other ImagePatch model twins (and free functions')."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.removesuffix(ASYNC_SUFFIX) in MODEL_FUNCTIONS
        and node.func.id.endswith(ASYNC_SUFFIX)
    ):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.endswith(ASYNC_SUFFIX)
        and node.func.attr[: -len(ASYNC_SUFFIX)] in MODEL_METHODS
    )


def is_gather_call(node: ast.AST) -> bool:
    """`asyncio.gather(...)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "gather"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
    )


def hermod_function_name(node: ast.Call) -> str | None:
    """The literal function name of a hermod.call, if it is a string literal."""
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def call_label(node: ast.AST) -> str:
    """A short human name for an awaited call, used to name temporaries."""
    if isinstance(node, ast.Call):
        if is_gather_call(node) and len(node.args) == 1 and isinstance(node.args[0], ast.Starred):
            inner = node.args[0].value
            if isinstance(inner, ast.ListComp | ast.GeneratorExp):
                return call_label(inner.elt) + "_results"
        if is_hermod_call(node):
            return hermod_function_name(node) or "call"
        if isinstance(node.func, ast.Attribute):
            return node.func.attr.removesuffix(ASYNC_SUFFIX)
        if isinstance(node.func, ast.Name):
            return node.func.id
    return "value"


def gather(awaitables: list[ast.expr]) -> ast.Await:
    """`await asyncio.gather(a, b, ...)`, marked as made by the compiler."""
    call = ast.Call(
        func=ast.Attribute(value=ast.Name("asyncio", ast.Load()), attr="gather", ctx=ast.Load()),
        args=awaitables,
        keywords=[],
    )
    return mark(ast.Await(value=mark(call)))  # type: ignore[return-value]


def gather_each(element: ast.expr, generators: list[ast.comprehension]) -> ast.Await:
    """`await asyncio.gather(*[element for ... in ...])`."""
    comp = ast.ListComp(elt=element, generators=generators)
    return gather([ast.Starred(value=comp, ctx=ast.Load())])


def target_names(target: ast.AST) -> list[str]:
    """Names bound by an assignment/for target, in order."""
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def is_simple_target(target: ast.AST) -> bool:
    """A Name, or a (nested) tuple/list of Names without starred parts."""
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Tuple | ast.List):
        return all(is_simple_target(e) for e in target.elts)
    return False


def all_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


class NameAllocator:
    """Fresh, readable names that collide with nothing in the program."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = set(taken)

    def fresh(self, base: str) -> str:
        base = base if base.startswith("_") else f"_{base}"
        for candidate in itertools.chain([base], (f"{base}{i}" for i in itertools.count(2))):
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise AssertionError("unreachable")


def module_functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def entry_point(tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    functions = module_functions(tree)
    for name in ENTRY_POINTS:
        if name in functions:
            return functions[name]
    return None
