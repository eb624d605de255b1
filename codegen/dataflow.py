"""Dataflow facts about statements: names read and written, effects, exits, awaits.

Deliberately conservative: anything it cannot classify (a call to an unknown function,
a method that may mutate, an await of something that is not a pure remote call) is
reported as such, and the passes leave that code serial.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from codegen.astutil import (
    is_async_model_method_call,
    is_gather_call,
    is_generated,
    is_hermod_call,
    target_names,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Calls known to have no effect beyond computing their value (by name, conservatively).
PURE_BUILTINS = _words(
    "abs all any bool dict divmod enumerate filter float format frozenset int isinstance len "
    "list map max min range repr reversed round set sorted str sum tuple zip chr ord pow hex "
    "bin oct ImagePatch Exception ValueError KeyError TypeError RuntimeError IndexError "
    "bool_to_yesno distance coerce_to_numeric"
)
PURE_METHODS = _words(
    "get keys values items index count copy lower upper strip lstrip rstrip split rsplit join "
    "replace startswith endswith format title capitalize casefold isdigit isalpha isnumeric "
    "find crop convert resize rotate open getbbox splitlines zfill"
)
MUTATING_METHODS = _words(
    "append extend insert pop remove clear update add discard setdefault sort reverse popitem"
)
# Expressions that always build a new object: mutating it is invisible to anyone else.
FRESH_CALLS = frozenset({"list", "dict", "set", "ImagePatch", "sorted"})
FRESH_METHODS = frozenset({"crop", "copy"})


@dataclass
class Purity:
    """Which of the program's own functions are free of effects (except remote calls)."""

    async_helpers: set[str] = field(default_factory=set)
    sync_helpers: set[str] = field(default_factory=set)


@dataclass
class Effects:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    mutated: set[str] = field(default_factory=set)
    prints: bool = False
    unknown_calls: bool = False
    awaits: bool = False
    impure_awaits: bool = False
    returns: bool = False
    breaks: bool = False  # at the level of the loop being analysed, not nested loops
    continues: bool = False
    raises: bool = False
    scope_change: bool = False  # global, nonlocal, yield, a nested def or class
    named_exprs: bool = False

    @property
    def exits(self) -> bool:
        return self.returns or self.breaks or self.continues or self.raises

    @property
    def pure(self) -> bool:
        """No effect at all besides writing local names and pure awaits."""
        return not (
            self.prints
            or self.unknown_calls
            or self.mutated
            or self.impure_awaits
            or self.exits
            or self.scope_change
        )


def is_pure_awaitable(node: ast.AST, purity: Purity) -> bool:
    """An awaitable whose only effect is remote calls: hermod.call, a model twin, a pure
    helper, or a gather of those."""
    if is_hermod_call(node) or is_async_model_method_call(node):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in purity.async_helpers
    if is_gather_call(node) and isinstance(node, ast.Call):
        return all(_pure_gather_arg(a, purity) for a in node.args) and not node.keywords
    return False


def _pure_gather_arg(arg: ast.expr, purity: Purity) -> bool:
    if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.ListComp | ast.GeneratorExp):
        return is_pure_awaitable(arg.value.elt, purity)
    return is_pure_awaitable(arg, purity)


class _Collector(ast.NodeVisitor):
    def __init__(self, purity: Purity) -> None:
        self.fx = Effects()
        self.purity = purity
        self._bound: list[set[str]] = []  # comprehension/lambda scopes
        self._loop_depth = 0
        self._in_replay = 0

    # -- names ----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if any(node.id in scope for scope in self._bound):
            return
        if isinstance(node.ctx, ast.Load):
            self.fx.reads.add(node.id)
        else:
            self.fx.writes.add(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.fx.named_exprs = True
        self.fx.writes.add(node.target.id)
        self.visit(node.value)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.fx.writes.add(node.name)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.fx.reads.add(node.target.id)
        self.generic_visit(node)

    def _store_into(self, node: ast.Attribute | ast.Subscript) -> None:
        base = base_name(node)
        if base is not None:
            self.fx.mutated.add(base)
        else:
            self.fx.unknown_calls = True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._store_into(node)
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._store_into(node)
        self.visit(node.value)
        self.visit(node.slice)

    # -- scopes ---------------------------------------------------------------------------
    def _comprehension(
        self,
        node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
        parts: list[ast.expr],
    ) -> None:
        self.visit(node.generators[0].iter)
        scope: set[str] = set()
        self._bound.append(scope)
        for i, gen in enumerate(node.generators):
            if i:
                self.visit(gen.iter)
            scope.update(target_names(gen.target))
            for cond in gen.ifs:
                self.visit(cond)
        for part in parts:
            self.visit(part)
        self._bound.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self._bound.append({a.arg for a in _all_args(node.args)})
        self.visit(node.body)
        self._bound.pop()

    def _def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.fx.writes.add(node.name)
        if not is_generated(node) or isinstance(node, ast.ClassDef):
            self.fx.scope_change = True
            return
        # A compiler-made helper is pure by construction: only its free names matter.
        self.fx.reads |= free_names(node)

    visit_FunctionDef = _def
    visit_AsyncFunctionDef = _def
    visit_ClassDef = _def

    # -- control flow ---------------------------------------------------------------------
    def visit_Return(self, node: ast.Return) -> None:
        self.fx.returns = True
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        # A compiler-made replay loop re-raises an iteration's failure where the serial loop
        # failed: not an exit of its own.
        if not self._in_replay:
            self.fx.raises = True
        self.generic_visit(node)

    def visit_Break(self, node: ast.Break) -> None:
        if not self._loop_depth:
            self.fx.breaks = True

    def visit_Continue(self, node: ast.Continue) -> None:
        if not self._loop_depth:
            self.fx.continues = True

    def _loop(self, node: ast.For | ast.While | ast.AsyncFor) -> None:
        self._in_replay += is_generated(node)
        self._visit_loop(node)
        self._in_replay -= is_generated(node)

    def _visit_loop(self, node: ast.For | ast.While | ast.AsyncFor) -> None:
        if isinstance(node, ast.While):
            self.visit(node.test)
        else:
            self.visit(node.target)
            self.visit(node.iter)
        self._loop_depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self._loop_depth -= 1
        for stmt in node.orelse:
            self.visit(stmt)

    visit_For = _loop
    visit_While = _loop
    visit_AsyncFor = _loop

    def visit_Global(self, node: ast.Global) -> None:
        self.fx.scope_change = True

    visit_Nonlocal = visit_Global

    def visit_Yield(self, node: ast.Yield) -> None:
        self.fx.scope_change = True
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield

    def visit_Delete(self, node: ast.Delete) -> None:
        self.fx.unknown_calls = True
        self.generic_visit(node)

    # -- calls ----------------------------------------------------------------------------
    def visit_Await(self, node: ast.Await) -> None:
        self.fx.awaits = True
        if not is_pure_awaitable(node.value, self.purity):
            self.fx.impure_awaits = True
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        self._classify_call(node)
        self.generic_visit(node)

    def _classify_call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "print":
                self.fx.prints = True
            elif (
                func.id not in PURE_BUILTINS | self.purity.sync_helpers | self.purity.async_helpers
            ):
                self.fx.unknown_calls = True
            return
        if is_hermod_call(node) or is_async_model_method_call(node) or is_gather_call(node):
            return
        if isinstance(func, ast.Attribute):
            if func.attr in PURE_METHODS:
                return
            base = base_name(func.value)
            if func.attr in MUTATING_METHODS and base is not None:
                self.fx.mutated.add(base)
                return
        self.fx.unknown_calls = True


def _all_args(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return args.posonlyargs + args.args + args.kwonlyargs + extra


def base_name(node: ast.AST) -> str | None:
    """`x` for x, x.a, x[i].b, ...; None when the base is not a name."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def effects(nodes: ast.AST | Iterable[ast.AST], purity: Purity) -> Effects:
    collector = _Collector(purity)
    for node in [nodes] if isinstance(nodes, ast.AST) else nodes:
        collector.visit(node)
    return collector.fx


def free_names(func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names a function reads from enclosing scopes (reads minus params and locals)."""
    body = func.body if isinstance(func.body, list) else [func.body]
    fx = effects(body, Purity())
    params = {a.arg for a in _all_args(func.args)}
    return fx.reads - fx.writes - params
