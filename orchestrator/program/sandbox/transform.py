"""AST transforms applied once per program, before it is compiled.

1. `strip_top_level`: drop what would run the program at import time (bare expressions,
   `asyncio.run(execute_query(...))`, `if __name__ == "__main__":`).
2. `Instrument`: guard calls at the top of every function and loop body, guarded
   comprehension iterables, checked `*` / `**` / `<<` / `%`, checked attribute stores,
   size checks on calls that can allocate a lot in C (sizes.py), and inside
   `async def` bodies the ImagePatch model methods (`patch.find(...)`) become awaited
   calls of their async twins, so a program written in the synchronous style never
   blocks the event loop.

The helpers are referenced by names starting with "__", which programs may not use, and
ending with "__", which Python does not mangle inside class bodies.
"""

from __future__ import annotations

import ast
from typing import Any

from orchestrator.program.dialect import ENTRY_POINTS, MODEL_METHODS
from orchestrator.program.sandbox.rules import is_main_guard
from orchestrator.program.sandbox.sizes import CHECKED_METHODS

ENTER = "__dicec_enter__"
LEAVE = "__dicec_leave__"
TICK = "__dicec_tick__"
ITERATE = "__dicec_iter__"
MUL = "__dicec_mul__"
POW = "__dicec_pow__"
LSHIFT = "__dicec_lshift__"
AUG = "__dicec_aug__"
WRITABLE = "__dicec_writable__"
MODEL_CALL_ASYNC = "__dicec_model_call__"
MODEL_CALL_SYNC = "__dicec_model_call_sync__"
CHECKED_CALL = "__dicec_checked_call__"
METHOD = "__dicec_method__"
MOD = "__dicec_mod__"
FORMAT_VALUE = "__dicec_format__"

_BINOP_HELPERS: dict[type, str] = {ast.Mult: MUL, ast.Pow: POW, ast.LShift: LSHIFT, ast.Mod: MOD}
_AUG_NAMES: dict[type, str] = {ast.Mult: "mul", ast.Pow: "pow", ast.LShift: "lshift"}


def strip_top_level(tree: ast.Module) -> tuple[ast.Module, list[int]]:
    """The module without statements that would run the program on import; and the line
    numbers of what was dropped."""
    kept: list[ast.stmt] = []
    dropped: list[int] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) or is_main_guard(stmt) or _runs_program(stmt):
            dropped.append(stmt.lineno)
        else:
            kept.append(stmt)
    return ast.Module(body=kept, type_ignores=tree.type_ignores), dropped


def _runs_program(stmt: ast.stmt) -> bool:
    """`result = asyncio.run(...)` or `x = execute_query(...)` at module level."""
    if not isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return False
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ENTRY_POINTS:
            return True
        if isinstance(func, ast.Attribute) and func.attr == "run":
            return True
    return False


def _call(name: str, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(
        func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=keywords or []
    )


def _is_model_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MODEL_METHODS
    )


class Instrument(ast.NodeTransformer):
    """Adds the guards; tracks whether code runs directly in an `async def` body."""

    def __init__(self) -> None:
        self._async_stack: list[bool] = [False]
        self._temps = 0

    @property
    def _in_async(self) -> bool:
        return self._async_stack[-1]

    def _scoped(self, node: ast.AST, is_async: bool) -> Any:
        self._async_stack.append(is_async)
        try:
            return self.generic_visit(node)
        finally:
            self._async_stack.pop()

    # -- scopes ---------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = self._scoped(node, False)
        if _is_generator(node):  # suspends mid-body: a step, but no depth count
            node.body.insert(0, ast.copy_location(ast.Expr(_call(TICK)), node))
            return node
        # Plain functions never suspend, so enter/leave count the task's call depth.
        counted = ast.Try(
            body=node.body, handlers=[], orelse=[], finalbody=[ast.Expr(_call(LEAVE))]
        )
        node.body = [ast.Expr(_call(ENTER)), counted]
        for stmt in node.body:
            ast.copy_location(stmt, node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        # Coroutines interleave, so no depth count: Python's recursion limit applies.
        node = self._scoped(node, True)
        node.body.insert(0, ast.copy_location(ast.Expr(_call(TICK)), node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = self._scoped(node, False)
        node.body = ast.BoolOp(op=ast.Or(), values=[_call(TICK), node.body])
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._scoped(node, False)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        if self._in_async and any(_is_model_call(n) for n in ast.walk(node)):
            # An awaited call would turn it into an async generator that min()/any() cannot
            # consume: evaluate it eagerly as a list instead (model calls are pure).
            as_list = ast.copy_location(
                ast.ListComp(elt=node.elt, generators=node.generators), node
            )
            return self.visit(as_list)
        return self.generic_visit(node)

    # -- loops ----------------------------------------------------------------------------
    def _guard_loop(self, node: ast.For | ast.AsyncFor | ast.While) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        node.body.insert(0, ast.copy_location(ast.Expr(_call(TICK)), node))
        return node

    visit_For = _guard_loop
    visit_AsyncFor = _guard_loop
    visit_While = _guard_loop

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if not node.is_async:
            node.iter = ast.copy_location(_call(ITERATE, node.iter), node.iter)
        return node

    # -- arithmetic -----------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        helper = _BINOP_HELPERS.get(type(node.op))
        if helper is None:
            return node
        return ast.copy_location(_call(helper, node.left, node.right), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        node = self.generic_visit(node)  # type: ignore[assignment]
        op = _AUG_NAMES.get(type(node.op))
        if op is None:
            return node
        before, target = self._hoist_target(node.target)
        load = _as_load(target)
        node.target = target
        node.value = _call(AUG, ast.Constant(op), load, node.value)
        ast.copy_location(node.value, node)
        return [*(ast.copy_location(s, node) for s in before), node]

    def _hoist_target(self, target: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        """Evaluate a target's container (and index) once, into temporaries."""
        if isinstance(target, ast.Name):
            return [], target
        before: list[ast.stmt] = []
        obj = self._temp(target.value, before)  # type: ignore[attr-defined]
        if isinstance(target, ast.Attribute):
            return before, ast.Attribute(value=obj, attr=target.attr, ctx=ast.Store())
        assert isinstance(target, ast.Subscript)
        index = target.slice
        if not isinstance(index, ast.Slice):
            index = self._temp(index, before)
        return before, ast.Subscript(value=obj, slice=index, ctx=ast.Store())

    def _temp(self, value: ast.expr, before: list[ast.stmt]) -> ast.Name:
        self._temps += 1
        name = f"__dicec_t{self._temps}__"
        before.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))
        return ast.Name(id=name, ctx=ast.Load())

    # -- attributes and calls -------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if isinstance(node.ctx, ast.Store | ast.Del):
            checked = _call(WRITABLE, node.value, ast.Constant(node.attr))
            node.value = ast.copy_location(checked, node.value)
        elif node.attr in MODEL_METHODS or node.attr in CHECKED_METHODS:
            # `f = img.crop` / `key=patch.compute_depth`: a method taken without a call
            # gets the same checks as a direct call
            return ast.copy_location(_call(METHOD, node.value, ast.Constant(node.attr)), node)
        return node

    def visit_Await(self, node: ast.Await) -> ast.AST:
        if self._in_async and _is_model_call(node.value):
            return ast.copy_location(ast.Await(self._model_call(node.value, awaited=True)), node)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_model_call(node):
            call = self._model_call(node, awaited=False)
            return ast.copy_location(ast.Await(call) if self._in_async else call, node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CHECKED_METHODS:
            head = [self.visit(func.value), ast.Constant(func.attr)]
            return ast.copy_location(self._helper_call(CHECKED_CALL, head, node), node)
        return self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        """`f"{x!r:>{n}}"` -> `f"{__dicec_format__(x, 'r', f'>{n}')}"`: the width is
        checked before the padded string is made."""
        node = self.generic_visit(node)  # type: ignore[assignment]
        if node.format_spec is None:
            return node
        conversion = chr(node.conversion) if node.conversion > 0 else ""
        call = _call(FORMAT_VALUE, node.value, ast.Constant(conversion), node.format_spec)
        return ast.copy_location(
            ast.FormattedValue(value=call, conversion=-1, format_spec=None), node
        )

    def _model_call(self, node: ast.Call, *, awaited: bool) -> ast.Call:
        func = node.func
        assert isinstance(func, ast.Attribute)
        head = [self.visit(func.value), ast.Constant(func.attr)]
        if self._in_async:
            call = self._helper_call(MODEL_CALL_ASYNC, [*head, ast.Constant(awaited)], node)
        else:
            call = self._helper_call(MODEL_CALL_SYNC, head, node)
        return ast.copy_location(call, node)

    def _helper_call(self, helper: str, head: list[ast.expr], node: ast.Call) -> ast.Call:
        """`obj.name(args)` as `helper(obj, "name", ..., args)`; args and keywords visited."""
        args = [self.visit(arg) for arg in node.args]
        keywords = [self.visit(keyword) for keyword in node.keywords]
        return _call(helper, *head, *args, keywords=keywords)


def _is_generator(func: ast.FunctionDef) -> bool:
    """Whether `yield` occurs in the function's own scope (not in nested defs/classes)."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _as_load(target: ast.expr) -> ast.expr:
    if isinstance(target, ast.Name):
        return ast.Name(id=target.id, ctx=ast.Load())
    if isinstance(target, ast.Attribute):
        return ast.Attribute(value=target.value, attr=target.attr, ctx=ast.Load())
    assert isinstance(target, ast.Subscript)
    return ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())


def instrument(tree: ast.Module) -> ast.Module:
    result = Instrument().visit(tree)
    return ast.fix_missing_locations(result)
