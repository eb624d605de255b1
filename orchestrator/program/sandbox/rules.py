"""The sandbox's static rules: what a program may name, import and reach, checked on the AST.

Checked before anything runs. The rules close the known in-process escapes: dunder
attributes (`().__class__.__mro__`), frame and code objects (`gen.gi_frame.f_globals`),
string formatting that reads attributes (`"{0.__class__}".format(x)`), and builtins that
take names as strings (`getattr`, `eval`). Everything else is allowed; the runtime guards
(guards.py) bound time, memory and output.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dicec.errors import ProgramError, SandboxViolation
from orchestrator.program.dialect import ENTRY_POINTS

ALLOWED_IMPORTS: frozenset[str] = frozenset(
    {
        "asyncio",
        "hermod",
        "PIL",
        "math",
        "re",
        "json",
        "statistics",
        "itertools",
        "functools",
        "collections",
        "random",
        "typing",
        "dataclasses",
        "string",
        "datetime",
        "time",
        "copy",
        "heapq",
        "bisect",
    }
)  # fmt: skip  (no fractions: Fraction("1e999999999") computes 10**999999999 in C)
# Dotted names a program may import besides the top-level ones.
ALLOWED_SUBMODULES: frozenset[str] = frozenset({"PIL.Image", "collections.abc"})

FORBIDDEN_NAMES: frozenset[str] = frozenset({
    "eval", "exec", "compile", "open", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "hasattr", "breakpoint", "input", "memoryview", "help", "exit", "quit", "type",
    "dir", "id",
})  # fmt: skip

# Attributes that reach frames, code, globals, files or the event loop, or read attributes
# named in a string (str.format). Everything starting with "_" is refused as well.
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset({
    "format", "format_map", "vformat",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "f_trace", "f_lasti",
    "func_globals", "func_code", "func_closure", "im_func", "im_self", "im_class",
    "get_loop", "get_stack", "print_stack", "get_coro", "get_context",
    "save", "show", "im", "fp", "save_ppm", "tofile", "getrandbits", "randbytes",
    "system", "popen", "modules", "builtins", "loader", "exec_module", "load_module",
    "register",  # abc.ABC.register changes isinstance() for every task in the process
})  # fmt: skip
FORBIDDEN_ATTRIBUTE_PREFIXES = ("_", "gi_", "cr_", "ag_", "tb_", "co_")

# Dunder methods a class body may define (operators, protocols). `__del__`, `__getattr__`,
# `__init_subclass__` and friends run at times the guards do not control.
ALLOWED_DUNDER_DEFS: frozenset[str] = frozenset({
    "__init__", "__post_init__", "__repr__", "__str__", "__eq__", "__ne__", "__lt__", "__le__",
    "__gt__", "__ge__", "__hash__", "__len__", "__iter__", "__next__", "__contains__",
    "__getitem__", "__setitem__", "__bool__", "__add__", "__sub__", "__mul__", "__truediv__",
    "__floordiv__", "__mod__", "__neg__", "__abs__", "__call__", "__enter__", "__exit__",
    "__aenter__", "__aexit__", "__aiter__", "__anext__", "__await__",
})  # fmt: skip


def parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else "unknown position"
        raise ProgramError(f"{filename}: syntax error at {where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise ProgramError(f"{filename}: cannot parse: {exc}") from None


def find_entry(tree: ast.Module, filename: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The first top-level def named in ENTRY_POINTS; it must take one argument."""
    defs = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for name in ENTRY_POINTS:
        node = defs.get(name)
        if node is None:
            continue
        args = node.args
        if not (args.posonlyargs or args.args or args.vararg):
            raise ProgramError(
                f"{filename}: line {node.lineno}: entry point {name} must take "
                f"one argument ({'the image path' if name == ENTRY_POINTS[0] else 'the image'})"
            )
        return node
    raise ProgramError(
        f"{filename}: no entry point: define `async def execute_query(image_filename)` "
        f"or `def execute_command(image)`"
    )


def is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (either operand order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = [p for p in parts if isinstance(p, ast.Name) and p.id == "__name__"]
    return len(parts) == 2 and len(names) == 1


def check_tree(tree: ast.Module, filename: str) -> None:
    """Raise SandboxViolation for the first rule broken, in source order (main guards are
    skipped: they are dropped before the program runs)."""
    found: list[tuple[tuple[int, int, int], str]] = []
    for stmt in tree.body:
        if is_main_guard(stmt):
            continue
        allowed = _allowed_forms(stmt)
        for node in ast.walk(stmt):
            problem = None if id(node) in allowed else _problem(node)
            if problem:
                found.append((_position(node, stmt), problem))
    if found:
        (line, _, _), problem = min(found)
        raise SandboxViolation(f"{filename}: line {line}: {problem}")


def _allowed_forms(stmt: ast.stmt) -> set[int]:
    """Nodes of two refused names that are safe in one form (ViperGPT's programs use both):
    `type(x)` with one argument, and `"literal {} {name:>3}".format(...)` whose fields name
    no attribute or index (the literal is known, so its fields are checked here)."""
    allowed: set[int] = set()
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        plain_args = not any(isinstance(a, ast.Starred) for a in node.args)
        if isinstance(func, ast.Name) and func.id == "type":
            if len(node.args) == 1 and plain_args and not node.keywords:
                allowed.add(id(func))
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and isinstance(func.value, ast.Constant)
            and isinstance(func.value.value, str)
            and _plain_format_fields(func.value.value)
        ):
            allowed.add(id(func))
    return allowed


def _plain_format_fields(template: str, depth: int = 0) -> bool:
    """Every replacement field is `{}`, `{0}` or `{name}` (no `.attr`, no `[index]`),
    nested fields in format specs included."""
    import string

    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False
    for _, name, spec, _ in fields:
        if name is not None and ("." in name or "[" in name or name.startswith("_")):
            return False
        if spec and (depth > 1 or not _plain_format_fields(spec, depth + 1)):
            return False
    return True


def _position(node: ast.AST, stmt: ast.stmt) -> tuple[int, int, int]:
    """Line, column, end column: of nested attributes, the innermost comes first."""
    line = getattr(node, "lineno", None) or stmt.lineno
    return line, getattr(node, "col_offset", 0), getattr(node, "end_col_offset", 0) or 0


def _problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return _import_problem(node)
    if isinstance(node, ast.Attribute):
        return None if _is_super_init(node) else _attribute_problem(node.attr)
    if isinstance(node, ast.ClassDef) and node.keywords:
        return f"class {node.name}: class keywords (metaclass=...) are not allowed"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return _def_name_problem(node.name)
    if isinstance(node, ast.MatchClass):
        bad = [a for a in node.kwd_attrs if _attribute_problem(a)]
        return _attribute_problem(bad[0]) if bad else None
    for name in _identifiers(node):
        problem = _name_problem(name)
        if problem:
            return problem
    return None


def _is_super_init(node: ast.Attribute) -> bool:
    """`super().__init__`: the one dunder attribute a program may use (class constructors)."""
    value = node.value
    return (
        node.attr in ("__init__", "__post_init__")
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def _identifiers(node: ast.AST) -> Iterator[str]:
    """The names a node binds or reads (besides attributes, imports and defs)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.arg):
        yield node.arg
    elif (
        isinstance(node, ast.ClassDef)
        or isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar)
        and node.name
    ):
        yield node.name
    elif isinstance(node, ast.Global | ast.Nonlocal):
        yield from node.names
    elif isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest


def _name_problem(name: str) -> str | None:
    if name.startswith("__"):
        return (
            f"name {name!r} is not allowed (names starting with '__' reach interpreter internals)"
        )
    if name in FORBIDDEN_NAMES:
        hint = " (only type(x), with one argument)" if name == "type" else ""
        return f"name {name!r} is not allowed in a program{hint}"
    return None


def _attribute_problem(attr: str) -> str | None:
    if attr in FORBIDDEN_ATTRIBUTES or attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES):
        if attr in ("format", "format_map"):
            return (
                f"attribute {attr!r} is not allowed here (str.format reads attributes): use an "
                "f-string, or .format on a string literal whose fields name no attribute or index"
            )
        return f"attribute {attr!r} is not allowed in a program"
    return None


def _def_name_problem(name: str) -> str | None:
    if name.startswith("__") and name not in ALLOWED_DUNDER_DEFS:
        return f"defining {name!r} is not allowed"
    if name in FORBIDDEN_NAMES:
        return f"name {name!r} is not allowed in a program"
    return None


def _import_problem(node: ast.Import | ast.ImportFrom) -> str | None:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return "relative imports are not allowed"
        module = node.module or ""
        problem = _module_problem(module)
        if problem:
            return problem
        from orchestrator.program.sandbox.modules import exported_names  # avoid an import cycle

        exported = exported_names(module)
        for alias in node.names:
            if alias.name == "*":
                return f"'from {module} import *' is not allowed: import the names you use"
            if exported is not None and alias.name not in exported:
                return f"'{alias.name}' cannot be imported from {module} in a program"
            problem = _name_problem(alias.asname or alias.name)
            if problem:
                return problem
        return None
    for alias in node.names:
        problem = _module_problem(alias.name) or _name_problem(alias.asname or "x")
        if problem:
            return problem
    return None


def _module_problem(module: str) -> str | None:
    top = module.split(".")[0]
    if top not in ALLOWED_IMPORTS or ("." in module and module not in ALLOWED_SUBMODULES):
        allowed = ", ".join(sorted(ALLOWED_IMPORTS))
        return f"import of {module!r} is not allowed (allowed: {allowed})"
    return None
