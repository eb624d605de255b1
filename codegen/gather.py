"""Gathering independent calls: within one block, and within list comprehensions.

Block scheduling: each `x = await call(...)` statement moves up to join the first gather
group after the last statement it conflicts with (reads what the other writes, writes
what it reads or writes). Everything else keeps its order; a statement with an effect
other than printing (mutation, unknown call, exit, an await that is not a pure call), or
one that may raise (safety.py), is a barrier that nothing crosses. Prints keep their
order among themselves. A gathered call's failure is caught (`_call_outcome`) and raised
again (`_settled`) at the call's own place in the program, after the same prints and in
the same order as the serial program would meet it.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from codegen.astutil import (
    NameAllocator,
    gather,
    gather_each,
    is_generated,
    is_simple_target,
    target_names,
)
from codegen.dataflow import Effects, Purity, effects, is_pure_awaitable
from codegen.liveness import certainly_assigned
from codegen.safety import TypeEnv, expr_may_raise, stmt_may_raise

OUTCOME, SETTLED, SETTLED_ALL = "_call_outcome", "_settled", "_settled_all"
SETTLE_SOURCE = f'''
async def {OUTCOME}(awaitable):
    """A call's result as a 1-tuple, or the exception it failed with (raised later)."""
    try:
        return (await awaitable,)
    except Exception as error:
        return error


def {SETTLED}(outcome):
    """The result, or the call's failure raised here, where the serial program met it."""
    if isinstance(outcome, tuple):
        return outcome[0]
    raise outcome


def {SETTLED_ALL}(outcomes):
    """The results in order; the first failure in program order is raised."""
    return [{SETTLED}(outcome) for outcome in outcomes]
'''


@dataclass
class _Stmt:
    node: ast.stmt
    fx: Effects
    awaitable: ast.expr | None  # set for `x = await call(...)` statements
    raises: bool = False  # may raise or exit on a failure-free run: a barrier
    outcome: str | None = None  # the name the gather stores this call's outcome in
    loop: bool = False  # a compiler-made replay loop: later calls may join its gather


@dataclass
class _Slot:
    members: list[_Stmt] = field(default_factory=list)
    is_group: bool = False


def call_statement(stmt: ast.stmt, purity: Purity) -> ast.expr | None:
    """The awaited call of a `target = await call(...)` / `await call(...)` statement whose
    arguments are pure, else None."""
    if isinstance(stmt, ast.Assign):
        if len(stmt.targets) != 1 or not is_simple_target(stmt.targets[0]):
            return None
    elif not isinstance(stmt, ast.Expr):
        return None
    value = stmt.value
    if not isinstance(value, ast.Await) or not is_pure_awaitable(value.value, purity):
        return None
    fx = effects(value.value, purity)
    if fx.awaits or not fx.pure or fx.named_exprs:
        return None
    return value.value


def _is_barrier(fx: Effects) -> bool:
    return bool(
        fx.awaits
        or fx.unknown_calls
        or fx.mutated
        or fx.exits
        or fx.scope_change
        or fx.impure_awaits
    )


def _conflict(a: _Stmt, b: _Stmt) -> bool:
    for s in (a, b):
        if s.awaitable is None and not s.loop and (s.raises or _is_barrier(s.fx)):
            return True
    if a.fx.prints and b.fx.prints:
        return True
    a_writes, b_writes = a.fx.writes | a.fx.mutated, b.fx.writes | b.fx.mutated
    return bool(a_writes & (b.fx.reads | b_writes) or a.fx.reads & b_writes)


def _is_replay(node: ast.stmt) -> bool:
    """The loop that replays gathered iterations: it raises only their calls' failures
    (their bodies cannot raise otherwise), so a later independent call may join its gather."""
    return (
        isinstance(node, ast.For)
        and is_generated(node)
        and isinstance(node.iter, ast.Await)
        and is_generated(node.iter)
    )


def schedule_block(
    stmts: list[ast.stmt],
    purity: Purity,
    alloc: NameAllocator,
    env: TypeEnv,
    bound: set[str],
    notes: list[str] | None = None,
) -> tuple[list[ast.stmt], int]:
    """Gather independent call statements of one block; returns the block and how many
    gathers were made. `bound`: names certainly bound when the block starts; `notes`
    collects which statement holds a call back from an earlier gather, and why."""
    slots: list[_Slot] = []
    bound = set(bound)
    for node in stmts:
        item = _Stmt(node, effects(node, purity), call_statement(node, purity))
        value = getattr(node, "value", None)
        if item.awaitable is not None and value is not None and expr_may_raise(value, env, bound):
            item.awaitable = None  # building the call may raise: it stays, a barrier
        item.raises = item.awaitable is None and stmt_may_raise(node, env, bound)
        bound |= certainly_assigned([node])
        if _is_replay(node):
            item.loop, item.raises = True, False
            slots.append(_Slot([item], is_group=True))
            continue
        if item.awaitable is None:
            slots.append(_Slot([item]))
            continue
        last_dep = max(
            (i for i, slot in enumerate(slots) if any(_conflict(m, item) for m in slot.members)),
            default=-1,
        )
        target = next((s for s in slots[last_dep + 1 :] if s.is_group), None)
        if target is None and notes is not None and last_dep >= 0:
            _note_holdback(item, slots, last_dep, notes)
        if target is None:
            slots.append(_Slot([item], is_group=True))
        else:
            target.members.append(item)
            slots.append(_Slot([_settle_item(item, alloc)]))  # the failure is met here
    out: list[ast.stmt] = []
    made = 0
    for slot in slots:
        if len(slot.members) == 1:
            out.append(slot.members[0].node)
        elif slot.members[0].loop:
            out += _with_loop(slot.members, alloc)
            made += 1
        else:
            first = _settle_item(slot.members[0], alloc).node
            out += [_gathered(slot.members), first]
            made += 1
    return out, made


def _with_loop(members: list[_Stmt], alloc: NameAllocator) -> list[ast.stmt]:
    """The replay loop's iterations and the later calls in one gather; the loop replays
    from its share of the outcomes."""
    loop = members[0]
    node = loop.node
    assert isinstance(node, ast.For) and isinstance(node.iter, ast.Await)
    loop.outcome = alloc.fresh("iterations")
    loop.awaitable = node.iter.value
    gathered = _gathered(members)
    node.iter = ast.Call(ast.Name(SETTLED, ast.Load()), [ast.Name(loop.outcome, ast.Load())], [])
    return [gathered, node]


def _note_holdback(item: _Stmt, slots: list[_Slot], last_dep: int, notes: list[str]) -> None:
    """A call that could have joined an earlier gather but for a barrier: say which."""
    held = slots[last_dep].members[0]
    if held.awaitable is not None or not any(s.is_group for s in slots[:last_dep]):
        return
    a, b = held.fx, item.fx
    if a.writes & (b.reads | b.writes) or a.reads & b.writes:
        return  # it needs what that statement computes: a dependency, not a barrier
    if any(_conflict(m, item) for s in slots[:last_dep] for m in s.members if s.is_group):
        return  # it depends on an earlier call anyway
    why = (
        "it may raise or exit, and the serial program would then never make the call"
        if held.raises or held.fx.exits
        else "it has effects the call may not cross (a mutation, an unknown call, an await)"
    )
    text = ast.unparse(held.node).split("\n")[0][:50]
    call = ast.unparse(item.awaitable).split("(")[0] if item.awaitable is not None else "call"
    notes.append(
        f"line {item.node.lineno}: {call}(...) held back by line {held.node.lineno} `{text}`: {why}"
    )


def _settle_item(member: _Stmt, alloc: NameAllocator) -> _Stmt:
    """`x = _settled(x)` at the member's own place (the gather stores its outcome)."""
    node = member.node
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        name = node.targets[0].id
        target: ast.expr | None = ast.Name(name, ast.Store())
    else:
        name = member.outcome or alloc.fresh("outcome")
        target = node.targets[0] if isinstance(node, ast.Assign) else None
    member.outcome = name
    value = ast.Call(ast.Name(SETTLED, ast.Load()), [ast.Name(name, ast.Load())], [])
    settle: ast.stmt = (
        ast.Assign(targets=[copy.deepcopy(target)], value=value, lineno=node.lineno)
        if target is not None
        else ast.Expr(value=value, lineno=node.lineno)
    )
    names = set(target_names(target)) if target is not None else set()
    return _Stmt(settle, Effects(reads={name}, writes=names | {name}), None)


def _gathered(members: list[_Stmt]) -> ast.stmt:
    targets: list[ast.expr] = [ast.Name(m.outcome or "_", ast.Store()) for m in members]
    awaitables: list[ast.expr] = [
        ast.Call(ast.Name(OUTCOME, ast.Load()), [m.awaitable], [])
        for m in members
        if m.awaitable is not None
    ]
    lineno = members[0].node.lineno
    return ast.Assign(
        targets=[ast.Tuple(elts=targets, ctx=ast.Store())], value=gather(awaitables), lineno=lineno
    )


class ComprehensionGatherer(ast.NodeTransformer):
    """Calls in list comprehensions run together, in order.

    `[await call(x) for x in xs]` -> `await asyncio.gather(*[call(x) for x in xs])`, and when
    the one call sits inside a larger element or the first condition,
    `[f(await call(x)) for x in xs if c(x)]` ->
    `[f(_r) for x, _r in zip(xs, await asyncio.gather(*[call(x) for x in xs])) if c(x)]`.
    Only when everything else is pure and the call runs for every element anyway.
    """

    def __init__(self, purity: Purity, alloc: NameAllocator, env: TypeEnv) -> None:
        self.purity = purity
        self.alloc = alloc
        self.env = env
        self.bound: set[str] = set(env.bound)  # names bound before the statement visited
        self.made = 0

    def _cannot_raise(self, node: ast.ListComp, parts: list[ast.expr]) -> bool:
        """Building every call (and the iterables and conditions) raises nothing, so the
        gather makes exactly the calls the serial comprehension makes."""
        bound = self.bound | {n for g in node.generators for n in target_names(g.target)}
        return not any(expr_may_raise(p, self.env, bound) for p in parts)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node  # nested scopes are handled as functions of their own

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]

    def visit_ListComp(self, node: ast.ListComp) -> ast.AST:
        self.generic_visit(node)
        if any(gen.is_async for gen in node.generators):
            return node
        elt = node.elt
        if isinstance(elt, ast.Await) and is_pure_awaitable(elt.value, self.purity):
            parts: list[ast.AST] = [elt.value]
            for gen in node.generators:
                parts += [gen.iter, *gen.ifs]
            if _pure_no_await(parts, self.purity) and self._cannot_raise(node, [elt, *parts[1:]]):
                self.made += 1
                return gather_settled(elt.value, node.generators)
        return self._zip_form(node)

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        """`{k: await f(k) for k in ks}` == `dict([(k, await f(k)) for k in ks])`: same
        evaluation order, same later-key-wins; gathered as a list comprehension."""
        pairs = ast.Tuple([node.key, node.value], ast.Load())
        return self._as_list(node, pairs, "dict")

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        return self._as_list(node, node.elt, "set")

    def _as_list(self, node: ast.DictComp | ast.SetComp, elt: ast.expr, builder: str) -> ast.AST:
        if not any(isinstance(n, ast.Await) for n in ast.walk(node)):
            return self.generic_visit(node)
        before = self.made
        listed = self.visit_ListComp(ast.ListComp(elt, copy.deepcopy(node.generators)))
        if self.made == before:
            return node
        return ast.Call(ast.Name(builder, ast.Load()), [listed], [])

    def _zip_form(self, node: ast.ListComp) -> ast.AST:
        """One call per element, inside a larger element or in the first condition."""
        if len(node.generators) != 1:
            return node
        gen = node.generators[0]
        awaits = [n for n in ast.walk(node) if isinstance(n, ast.Await)]
        in_filter = bool(gen.ifs) and unconditional_awaits(gen.ifs[0]) == awaits
        in_element = not in_filter and unconditional_awaits(node.elt) == awaits
        if len(awaits) != 1 or not (in_filter or in_element):
            return node
        call = awaits[0].value
        others = gen.ifs[1:] if in_filter else gen.ifs  # conditions evaluated without the call
        if not (
            is_pure_awaitable(call, self.purity)
            and _reevaluable(gen.iter, self.purity)
            and _pure_no_await([call, gen.iter, *others], self.purity)
        ):
            return node
        rest = effects([node.elt, *gen.ifs], self.purity)  # the one await is a pure call
        if not rest.pure or rest.named_exprs:
            return node
        if not self._cannot_raise(node, [node.elt, gen.iter, *gen.ifs]):
            return node
        result = self.alloc.fresh("result")
        _replace(node, awaits[0], ast.Name(result, ast.Load()))
        # The calls: one per element that reaches the call, in order, all at once.
        callers = [] if in_filter else [copy.deepcopy(i) for i in gen.ifs]
        inner = ast.comprehension(copy.deepcopy(gen.target), copy.deepcopy(gen.iter), callers, 0)
        items: ast.expr = gen.iter
        if in_element and gen.ifs:  # pair each answer with the element that asked it
            items = ast.ListComp(
                _as_load(gen.target),
                [ast.comprehension(copy.deepcopy(gen.target), copy.deepcopy(gen.iter), gen.ifs, 0)],
            )
            gen.ifs = []
        gen.iter = ast.Call(ast.Name("zip", ast.Load()), [items, gather_settled(call, [inner])], [])
        gen.target = ast.Tuple([gen.target, ast.Name(result, ast.Store())], ast.Store())
        self.made += 1
        return node


def gather_settled(element: ast.expr, generators: list[ast.comprehension]) -> ast.expr:
    """`_settled_all(await asyncio.gather(*[_call_outcome(element) for ...]))`."""
    wrapped = ast.Call(ast.Name(OUTCOME, ast.Load()), [element], [])
    return ast.Call(ast.Name(SETTLED_ALL, ast.Load()), [gather_each(wrapped, generators)], [])


def _as_load(target: ast.expr) -> ast.expr:
    loaded = copy.deepcopy(target)
    for node in ast.walk(loaded):
        if isinstance(node, ast.Name | ast.Tuple | ast.List):
            node.ctx = ast.Load()
    return loaded


def _pure_no_await(parts: list[ast.AST], purity: Purity) -> bool:
    fx = effects(parts, purity)
    return not fx.awaits and fx.pure and not fx.named_exprs


def _reevaluable(node: ast.expr, purity: Purity) -> bool:
    """Evaluating it twice gives the same sequence: names, attributes, pure builtins."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (
                isinstance(sub.func, ast.Name)
                and sub.func.id
                in {"enumerate", "zip", "range", "reversed", "list", "sorted", "tuple"}
            ):
                return False
        elif not isinstance(
            sub,
            ast.Name
            | ast.Attribute
            | ast.Constant
            | ast.Load
            | ast.Subscript
            | ast.Tuple
            | ast.List
            | ast.keyword,
        ):
            return False
    return _pure_no_await([node], purity)


def unconditional_awaits(node: ast.AST) -> list[ast.Await]:
    """Awaits that run whenever `node` is evaluated (not behind and/or/if-else/lambda)."""
    if isinstance(node, ast.Await):
        return [node, *unconditional_awaits(node.value)]
    if isinstance(node, ast.BoolOp):
        return unconditional_awaits(node.values[0])
    if isinstance(node, ast.IfExp):
        return unconditional_awaits(node.test)
    if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return []
    out: list[ast.Await] = []
    for child in ast.iter_child_nodes(node):
        out += unconditional_awaits(child)
    return out


def _replace(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(root):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
