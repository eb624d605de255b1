"""Normalisation: awaits buried in expressions become their own `tmp = await call` statements.

`print(f"{(await hermod.call('blip', ...))['answer']}")` becomes
`_blip = await hermod.call('blip', ...)` then `print(f"{_blip['answer']}")`, so that the
gather pass sees every call as a statement. An await is lifted only when nothing with an
effect is evaluated before it in its statement, and never out of a conditionally
evaluated place (the right of `and`/`or`, a branch of `x if c else y`, a comprehension or
a lambda): lifting must not change what runs or in which order effects happen. Nor is
it lifted above anything that may raise (a subscript, an unknown call: safety.py), or the
call would be made where the serial program raises first.
"""

from __future__ import annotations

import ast
import copy

from codegen.astutil import NameAllocator, call_label, is_generated
from codegen.dataflow import Purity, _Collector, is_pure_awaitable
from codegen.liveness import certainly_assigned
from codegen.safety import TypeEnv, expr_may_raise


class _CannotLift(Exception):
    """An effect is evaluated before an await in this statement."""


class _Lifter:
    def __init__(self, purity: Purity, alloc: NameAllocator, env: TypeEnv, bound: set[str]) -> None:
        self.purity = purity
        self.alloc = alloc
        self.env = env
        self.bound = set(bound)
        self.lifted: list[ast.stmt] = []
        self.effect_seen = False

    def expr(self, node: ast.expr) -> ast.expr:  # noqa: C901 - one case per node kind
        """Rewrite `node` in evaluation order, lifting its awaits into self.lifted."""
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            # Only the first iterable is evaluated here, once, before anything else in it.
            first = node.generators[0]
            first.iter = self.expr(first.iter)
            rest = [*first.ifs, *node.generators[1:]]
            rest += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for part in rest:
                self._note_effects(part)
            return node
        if isinstance(node, ast.Lambda):
            self._note_effects(node)
            return node
        if isinstance(node, ast.BoolOp):
            node.values[0] = self.expr(node.values[0])
            for value in node.values[1:]:
                self._note_effects(value)
            return node
        if isinstance(node, ast.IfExp):
            node.test = self.expr(node.test)
            self._note_effects(node.body)
            self._note_effects(node.orelse)
            return node
        if isinstance(node, ast.Await):
            return self._await(node)
        for name, value in ast.iter_fields(node):
            if isinstance(node, ast.Call) and name == "func" and isinstance(value, ast.Attribute):
                value.value = self.expr(value.value)  # the method lookup: the call's check
            elif isinstance(value, ast.expr):
                setattr(node, name, self.expr(value))
            elif isinstance(value, list):
                setattr(
                    node,
                    name,
                    [self.expr(v) if isinstance(v, ast.expr) else self._keyword(v) for v in value],
                )
        if isinstance(node, ast.Call) and not self._call_is_pure(node):
            self.effect_seen = True
        if not is_pure_awaitable(node, self.purity) and expr_may_raise(node, self.env, self.bound):
            self.effect_seen = True  # (an awaited call is checked by its await)
        return node

    def _keyword(self, value: object) -> object:
        if isinstance(value, ast.keyword):
            value.value = self.expr(value.value)
        return value

    def _await(self, node: ast.Await) -> ast.expr:
        if not is_generated(node):  # a compiler-made gather was built from safe parts
            node.value = self.expr(node.value)
        if self.effect_seen or not is_pure_awaitable(node.value, self.purity):
            raise _CannotLift
        if expr_may_raise(node, self.env, self.bound):  # building the call itself may raise
            raise _CannotLift
        name = self.alloc.fresh(call_label(node.value))
        self.bound.add(name)
        awaited = self.env.of(node)  # the temporary has its call's result type
        if awaited is not None:
            self.env.types[name] = awaited
        self.lifted.append(ast.Assign(targets=[ast.Name(name, ast.Store())], value=node, lineno=0))
        return ast.Name(name, ast.Load())

    def _note_effects(self, node: ast.AST) -> None:
        collector = _Collector(self.purity)
        collector.visit(node)
        fx = collector.fx
        if fx.awaits or fx.prints or fx.unknown_calls or fx.mutated:
            self.effect_seen = True

    def _call_is_pure(self, node: ast.Call) -> bool:
        collector = _Collector(self.purity)
        collector._classify_call(node)
        fx = collector.fx
        return not (fx.prints or fx.unknown_calls or fx.mutated)


def lift_block(
    stmts: list[ast.stmt],
    purity: Purity,
    alloc: NameAllocator,
    env: TypeEnv,
    bound: set[str] | None = None,
) -> list[ast.stmt]:
    """Lift awaits out of every statement of this block and of the blocks nested in it."""
    out: list[ast.stmt] = []
    bound = set(env.bound if bound is None else bound)
    for stmt in stmts:
        inner = bound | set(_loop_targets(stmt))
        for field in ("body", "orelse", "finalbody"):
            block = getattr(stmt, field, None)
            if (
                isinstance(block, list)
                and block
                and isinstance(block[0], ast.stmt)
                and not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            ):
                setattr(stmt, field, lift_block(block, purity, alloc, env, inner))
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                handler.body = lift_block(handler.body, purity, alloc, env, inner)
        out.extend(_lift_stmt(stmt, purity, alloc, env, bound))
        bound |= certainly_assigned([stmt])
    return out


def _loop_targets(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return [n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)]
    return []


def _lift_stmt(
    stmt: ast.stmt, purity: Purity, alloc: NameAllocator, env: TypeEnv, bound: set[str]
) -> list[ast.stmt]:
    slot = _expression_slot(stmt)
    if slot is None:
        return [stmt]
    field, top_level_await_ok = slot
    value = getattr(stmt, field)
    if value is None or not any(isinstance(n, ast.Await) for n in ast.walk(value)):
        return [stmt]
    lifter = _Lifter(purity, alloc, env, bound)
    value = copy.deepcopy(value)  # the original stays intact if lifting gives up halfway
    try:
        if top_level_await_ok and isinstance(value, ast.Await):
            value.value = lifter.expr(value.value)
            new_value: ast.expr = value
        else:
            new_value = lifter.expr(value)
    except _CannotLift:
        return [stmt]
    setattr(stmt, field, new_value)
    for lifted in lifter.lifted:  # notes name the serial program's line
        lifted.lineno = stmt.lineno
    return [*lifter.lifted, stmt]


def _expression_slot(stmt: ast.stmt) -> tuple[str, bool] | None:
    """Which field of the statement is evaluated first, and whether `x = await call` there is
    already in normal form."""
    if isinstance(stmt, ast.Assign):
        single = len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name | ast.Tuple)
        return "value", single
    if isinstance(stmt, ast.Expr):
        return "value", True
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.Return):
        return "value", False
    if isinstance(stmt, ast.If):
        return "test", False
    if isinstance(stmt, ast.For):
        return "iter", False
    return None
