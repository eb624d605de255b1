"""Which names are live, carried or private: the facts that decide whether a loop's
iterations are independent (see loops.py)."""

from __future__ import annotations

import ast

from codegen.astutil import target_names
from codegen.dataflow import FRESH_CALLS, FRESH_METHODS, Purity, effects, is_pure_awaitable


def is_fresh_value(node: ast.expr, purity: Purity) -> bool:
    """A value that is a brand-new object nobody else refers to."""
    if isinstance(
        node,
        ast.List
        | ast.Dict
        | ast.Set
        | ast.ListComp
        | ast.DictComp
        | ast.SetComp
        | ast.JoinedStr
        | ast.Constant,
    ):
        return True
    if isinstance(node, ast.Await):
        return is_pure_awaitable(node.value, purity)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id in FRESH_CALLS
        if isinstance(node.func, ast.Attribute):
            return node.func.attr in FRESH_METHODS
    return False


def fresh_locals(stmts: list[ast.stmt], purity: Purity) -> set[str]:
    """Names that these statements only ever bind (plain `x = ...`) to fresh objects."""
    fresh: set[str] = set()
    stale: set[str] = set()
    handled: set[int] = set()
    for root in stmts:
        for node in ast.walk(root):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                handled.add(id(node.targets[0]))
                name = node.targets[0].id
                (fresh if is_fresh_value(node.value, purity) else stale).add(name)
    for root in stmts:
        for node in ast.walk(root):
            if (
                isinstance(node, ast.Name)
                and not isinstance(node.ctx, ast.Load)
                and id(node) not in handled
            ):
                stale.add(node.id)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                stale.add(node.name)
    return fresh - stale


def exposed_reads(
    stmts: list[ast.stmt], purity: Purity, assigned: frozenset[str] = frozenset()
) -> set[str]:
    """Names read before they are certainly assigned in these statements."""
    exposed: set[str] = set()
    done = set(assigned)
    for stmt in stmts:
        exposed |= _exposed_stmt(stmt, purity, done)
    return exposed


def _exposed_stmt(stmt: ast.stmt, purity: Purity, done: set[str]) -> set[str]:
    frozen = frozenset(done)
    if isinstance(stmt, ast.If):
        out = effects(stmt.test, purity).reads - done
        out |= exposed_reads(stmt.body, purity, frozen) | exposed_reads(stmt.orelse, purity, frozen)
        done |= certainly_assigned(stmt.body) & certainly_assigned(stmt.orelse)
        return out
    if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
        head = stmt.test if isinstance(stmt, ast.While) else stmt.iter
        out = effects(head, purity).reads - done
        inner = frozen | (
            set(target_names(stmt.target)) if not isinstance(stmt, ast.While) else set()
        )
        return out | exposed_reads(stmt.body + stmt.orelse, purity, frozenset(inner))
    if isinstance(stmt, ast.Try):
        out = exposed_reads(stmt.body, purity, frozen)
        for handler in stmt.handlers:  # `except ... as e` binds e before the handler runs
            bound = frozen | ({handler.name} if handler.name else set())
            out |= exposed_reads(handler.body, purity, frozenset(bound))
        out |= exposed_reads(stmt.orelse + stmt.finalbody, purity, frozen)
        return out
    if isinstance(stmt, ast.With | ast.AsyncWith):
        out = effects([i.context_expr for i in stmt.items], purity).reads - done
        for item in stmt.items:
            if item.optional_vars is not None:
                done.update(target_names(item.optional_vars))
        return out | exposed_reads(stmt.body, purity, frozenset(done))
    fx = effects(stmt, purity)
    out = fx.reads - done
    done |= fx.writes
    return out


def certainly_assigned(stmts: list[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            out |= effects(stmt, Purity()).writes
        elif isinstance(stmt, ast.If):
            out |= certainly_assigned(stmt.body) & certainly_assigned(stmt.orelse)
    return out
