"""Loops whose iterations are independent become per-iteration coroutines, gathered.

    for i, car in enumerate(cars):            async def _each_car(i, car):
        patch = image.crop(...)                   _printed = []
        color = await hermod.call(...)    =>      ...
        print(f"Car {i}: {color}")                _printed.append(_deferred_print(f"..."))
                                                  return _printed
                                              for _printed in await asyncio.gather(
                                                      *[_each_car(i, car) for i, car in ...]):
                                                  for _args, _kwargs in _printed:
                                                      print(*_args, **_kwargs)

Prints (and appends to a list made outside the loop) are recorded by each iteration and
replayed after the gather in iteration order, so the output never changes order. A loop
stays serial, with the reason noted, when an iteration can exit early, reads a value a
previous iteration wrote, mutates shared state, calls something with unknown effects, or
leaves a value that the code after the loop reads.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from codegen.astutil import (
    NameAllocator,
    gather_each,
    is_generated,
    is_simple_target,
    mark,
    target_names,
)
from codegen.dataflow import Effects, Purity, effects, free_names
from codegen.liveness import certainly_assigned, exposed_reads, fresh_locals
from codegen.safety import TypeEnv, body_may_raise

DEFERRED_PRINT = "_deferred_print"
DEFERRED_PRINT_SOURCE = f'''
def {DEFERRED_PRINT}(*args, **kwargs):
    """A print kept for later: its text now, printed after the gather in program order."""
    return ([str(arg) for arg in args], kwargs)
'''
LIST_METHODS = ("append", "extend")
LIST_BUILDERS = (ast.List, ast.ListComp)


class Serial(Exception):
    """This loop must stay serial; the message says why."""


@dataclass
class LoopContext:
    """Where the loop sits: the code that runs after it and the constructs around it."""

    function: ast.AsyncFunctionDef
    after: list[list[ast.stmt]] = field(default_factory=list)  # innermost first
    enclosing: list[ast.stmt] = field(default_factory=list)  # loops and trys around it
    shared: set[str] = field(default_factory=set)  # names the function declares global


@dataclass
class LoopRewrite:
    statements: list[ast.stmt]
    helper: str
    uses_deferred_print: bool


def parallelize_loop(
    loop: ast.For,
    ctx: LoopContext,
    purity: Purity,
    alloc: NameAllocator,
    safety: tuple[TypeEnv, set[str]],
) -> LoopRewrite | None:
    """The gathered form of `loop`, None when it has no call to gather; Serial if unsafe."""
    fx = effects(loop.body, purity)
    if not fx.awaits:
        return None
    _check_effects(loop, fx)
    written = fx.writes | set(target_names(loop.target))
    lists = _deferred_lists(loop, ctx, written)
    dicts = _deferred_dicts(loop, ctx, written)
    accs = _accumulators(loop, set(lists) | set(dicts))
    written -= set(accs)  # their updates are folded after the gather, in iteration order
    used = {n.id for n in _walk_own(loop.body) if isinstance(n, ast.Name)}
    if (used & ctx.shared) - set(accs):
        shared = (used & ctx.shared) - set(accs)
        raise Serial(f"uses global/nonlocal {_names(shared)} other than as a running total")
    _check_mutations(loop, fx, written, [*lists, *dicts], purity)
    carried = written & exposed_reads(loop.body, purity, frozenset(target_names(loop.target)))
    if carried:
        raise Serial(f"reads {_names(carried)} before assigning it: carried between iterations")
    live = written & _live_after(loop, ctx, purity)
    if live:
        raise Serial(f"{_names(live)} set in the loop is used after it")
    raising = body_may_raise(loop.body, *safety)
    if raising is not None:
        text = ast.unparse(raising).split("\n")[0][:60]
        raise Serial(
            f"`{text}` (line {raising.lineno}) may raise: the serial loop would stop there and "
            "not make the later iterations' calls"
        )
    return _rewrite(loop, fx, (lists, accs, dicts), purity, alloc)


def _store_chain(target: ast.expr) -> tuple[str, list[ast.expr]] | None:
    """`d[k1][k2]` -> ("d", [k1, k2]); None for anything else."""
    keys: list[ast.expr] = []
    while isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
        keys.insert(0, target.slice)
        target = target.value
    return (target.id, keys) if isinstance(target, ast.Name) and keys else None


def _deferred_dicts(loop: ast.For, ctx: LoopContext, written: set[str]) -> dict[str, int]:
    """Dicts made outside the loop (`d = {...}`) that the loop only stores into
    (`d[k] = v`, `d[a][k] = v`, one depth per dict): the stores are replayed after the
    gather in iteration order, so the dict ends as the serial loop leaves it."""
    depths: dict[str, int] = {}
    bases: set[int] = set()
    bad: set[str] = set(written)
    for node in _walk_own(loop.body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            chain = _store_chain(node.targets[0])
            if chain is None:
                continue
            name, keys = chain
            if depths.setdefault(name, len(keys)) != len(keys):
                bad.add(name)
            base = node.targets[0]
            while isinstance(base, ast.Subscript):
                base = base.value
            bases.add(id(base))
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)):
                bad.add(name)
    for node in [*_walk_own(loop.body), *ast.walk(loop.iter)]:
        if isinstance(node, ast.Name) and node.id in depths and id(node) not in bases:
            bad.add(node.id)  # read elsewhere in the loop: not only stored into
    return {
        n: d
        for n, d in depths.items()
        if n not in bad and _only_ever_fresh(n, ctx.function, (ast.Dict, ast.DictComp))
    }


def _accumulators(loop: ast.For, lists: set[str]) -> dict[str, ast.operator]:
    """Names the loop only updates by `name op= value` (one op of + - *, value not reading
    the name): a reduction. Each iteration records its values; the fold runs after the
    gather, in iteration order, so the result is the serial one (no commutativity needed)."""
    targets = set(target_names(loop.target))
    ops: dict[str, ast.operator] = {}
    bad: set[str] = set(targets | lists)
    updates: set[int] = set()
    for node in _walk_own(loop.body):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            updates.add(id(node.target))
            same = ops.setdefault(name, node.op)
            reads_itself = any(
                isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)
            )
            if (
                type(same) is not type(node.op)
                or reads_itself
                or not isinstance(node.op, ast.Add | ast.Sub | ast.Mult)
            ):
                bad.add(name)
    for node in _walk_own(loop.body):
        if isinstance(node, ast.Name) and node.id in ops and id(node) not in updates:
            bad.add(node.id)  # read or bound elsewhere in the body: not a plain reduction
    return {name: op for name, op in ops.items() if name not in bad}


def _names(names: set[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))


def _check_effects(loop: ast.For, fx: Effects) -> None:
    if fx.returns:
        raise Serial("returns from inside the loop (early exit)")
    if fx.breaks:
        raise Serial("breaks out of the loop (early exit)")
    if fx.raises:
        raise Serial("raises inside the loop")
    if fx.scope_change:
        raise Serial("defines a function or class, or uses global/nonlocal/yield inside")
    if fx.impure_awaits:
        raise Serial("awaits something other than a pure call (a helper with effects?)")
    if fx.unknown_calls:
        raise Serial("calls a function whose effects are unknown")
    if fx.named_exprs:
        raise Serial("uses an assignment expression (:=)")
    if not is_simple_target(loop.target):
        raise Serial("the loop target is not a plain name or tuple of names")
    statement_prints = {id(n.value) for n in _walk_own(loop.body) if isinstance(n, ast.Expr)}
    if any(_is_print(n) and id(n) not in statement_prints for n in _walk_own(loop.body)):
        raise Serial("uses print() inside an expression")


def _walk_own(stmts: list[ast.stmt]):  # noqa: ANN202 - a generator of nodes
    """Nodes of these statements, not descending into compiler-made helpers."""
    stack: list[ast.AST] = list(reversed(stmts))
    while stack:
        node = stack.pop()
        if is_generated(node) and isinstance(node, ast.AsyncFunctionDef):
            continue
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _is_print(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    )


def _list_call(stmt: ast.AST) -> str | None:
    """`m` for a statement `m.append(x)` / `m.extend(xs)`."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in LIST_METHODS
            and isinstance(func.value, ast.Name)
            and len(stmt.value.args) == 1
            and not stmt.value.keywords
        ):
            return func.value.id
    return None


def _deferred_lists(loop: ast.For, ctx: LoopContext, written: set[str]) -> list[str]:
    """Lists made outside the loop that the loop only appends to: their appends can be
    replayed after the gather, in order."""
    receivers: dict[str, int] = {}
    for node in _walk_own(loop.body):
        name = _list_call(node)
        if name is not None and name not in written:
            receivers[name] = receivers.get(name, 0) + 1
    lists = []
    for name, count in receivers.items():
        loads = sum(
            1
            for n in _walk_own(loop.body)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        )
        in_iter = any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(loop.iter))
        if loads == count and not in_iter and _only_ever_a_fresh_list(name, ctx.function):
            lists.append(name)
    return lists


def _only_ever_a_fresh_list(name: str, function: ast.AsyncFunctionDef) -> bool:
    return _only_ever_fresh(name, function, LIST_BUILDERS)


def _only_ever_fresh(name: str, function: ast.AsyncFunctionDef, builders: tuple[type, ...]) -> bool:
    """Bound only by `name = <display>` in this function and never aliased by `x = name`."""
    bound_ok = False
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                if not isinstance(node.value, builders):
                    return False
                bound_ok = True
            if isinstance(node.value, ast.Name) and node.value.id == name:
                return False
        elif (
            isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Store)
            and not _is_plain_assign_target(node, function)
        ):
            return False
    params = {a.arg for a in function.args.args + function.args.kwonlyargs}
    return bound_ok and name not in params


def _is_plain_assign_target(name: ast.Name, function: ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, ast.Assign) and name in n.targets for n in ast.walk(function))


def _check_mutations(
    loop: ast.For, fx: Effects, written: set[str], lists: list[str], purity: Purity
) -> None:
    private = written & fresh_locals(loop.body, purity)
    shared = fx.mutated - private - set(lists)
    if shared:
        raise Serial(f"mutates {_names(shared)}, shared between iterations")


def _live_after(loop: ast.For, ctx: LoopContext, purity: Purity) -> set[str]:
    """Names the code after the loop may read before setting them (conservative)."""
    live: set[str] = set()
    assigned: set[str] = set()
    poisoned = False
    for segment in [loop.orelse, *ctx.after]:
        if poisoned:
            live |= _reads_in(segment, exclude=loop.body)
            continue
        live |= exposed_reads(segment, purity, frozenset(assigned))
        assigned |= certainly_assigned(segment)
        poisoned = any(
            isinstance(n, ast.Return | ast.Break | ast.Continue | ast.Raise)
            for s in segment
            for n in ast.walk(s)
        )
    live |= _reads_in(ctx.enclosing, exclude=loop.body)
    for node in ast.walk(ctx.function):
        if (
            isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef)
            and node is not ctx.function
            and not _inside(node, loop.body)
        ):
            live |= free_names(node)
    return live


def _reads_in(nodes: list[ast.stmt], exclude: list[ast.stmt]) -> set[str]:
    skip = {id(n) for s in exclude for n in ast.walk(s)}
    return {
        n.id
        for root in nodes
        for n in ast.walk(root)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in skip
    }


def _inside(node: ast.AST, body: list[ast.stmt]) -> bool:
    return any(node is n for s in body for n in ast.walk(s))


class _Deferrer(ast.NodeTransformer):
    """Inside the iteration helper: prints and outer-list appends are recorded; `continue`
    ends the iteration."""

    def __init__(
        self,
        printed: str,
        lists: dict[str, str],
        result: ast.expr,
        accs: dict[str, str],
        stores: dict[str, str],
    ) -> None:
        self.printed = printed
        self.lists = lists
        self.accs = accs
        self.stores = stores
        self.result = result
        self.used_print = False
        self._loops = 0

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return node  # compiler-made inner helpers record their own output

    def visit_For(self, node: ast.For) -> ast.AST:
        node.iter = self.visit(node.iter)
        self._loops += 1
        node.body = [self.visit(s) for s in node.body]
        self._loops -= 1
        node.orelse = [self.visit(s) for s in node.orelse]
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        node.test = self.visit(node.test)
        self._loops += 1
        node.body = [self.visit(s) for s in node.body]
        self._loops -= 1
        node.orelse = [self.visit(s) for s in node.orelse]
        return node

    def visit_Continue(self, node: ast.Continue) -> ast.AST:
        if self._loops:
            return node
        return ast.Return(value=copy.deepcopy(self.result))

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        chain = _store_chain(node.targets[0]) if len(node.targets) == 1 else None
        if chain is not None and chain[0] in self.stores:
            record = ast.Tuple([*chain[1], node.value], ast.Load())
            return _call_stmt(self.stores[chain[0]], "append", record)
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if isinstance(node.target, ast.Name) and node.target.id in self.accs:
            return _call_stmt(self.accs[node.target.id], "append", node.value)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if _is_print(node.value):
            self.used_print = True
            call = node.value
            record = ast.Call(ast.Name(DEFERRED_PRINT, ast.Load()), call.args, call.keywords)
            return _call_stmt(self.printed, "append", record)
        name = _list_call(node)
        if name in self.lists:
            call = node.value
            assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            return _call_stmt(self.lists[name], call.func.attr, call.args[0])
        return self.generic_visit(node)


def _call_stmt(receiver: str, method: str, arg: ast.expr) -> ast.Expr:
    func = ast.Attribute(ast.Name(receiver, ast.Load()), method, ast.Load())
    return ast.Expr(ast.Call(func, [arg], []))


def _rewrite(
    loop: ast.For,
    fx: Effects,
    deferred: tuple[list[str], dict[str, ast.operator], dict[str, int]],
    purity: Purity,
    alloc: NameAllocator,
) -> LoopRewrite:
    lists, accs, dicts = deferred
    params = list(dict.fromkeys(target_names(loop.target)))
    helper = alloc.fresh(f"each_{params[-1]}")
    printed = alloc.fresh("printed") if fx.prints else None
    buffers = {name: alloc.fresh(f"{name}_items") for name in lists}
    folds = {name: alloc.fresh(f"{name}_terms") for name in accs}
    stores = {name: alloc.fresh(f"{name}_stores") for name in dicts}
    outputs = ([printed] if printed else []) + list(buffers.values()) + list(folds.values())
    outputs += list(stores.values())
    error = alloc.fresh("error")
    # An iteration returns its recorded output and the exception that ended it (or None):
    # the replay then fails where the serial loop failed, after the same output.
    done, failed = _outputs(outputs, "None"), _outputs(outputs, error)
    deferrer = _Deferrer(printed or "", buffers, _expr(done), folds, stores)
    body = [deferrer.visit(s) for s in copy.deepcopy(loop.body)]
    func = _parse_stmt(
        f"async def {helper}({', '.join(params)}):\n"
        + "".join(f"    {o} = []\n" for o in outputs)
        + f"    try:\n        pass\n    except Exception as {error}:\n        return {failed}\n"
        f"    return {done}\n"
    )
    assert isinstance(func, ast.AsyncFunctionDef) and isinstance(func.body[-2], ast.Try)
    func.body[-2].body = body
    mark(func)
    purity.async_helpers.add(helper)
    element = ast.Call(ast.Name(helper, ast.Load()), [ast.Name(p, ast.Load()) for p in params], [])
    comp = ast.comprehension(target=copy.deepcopy(loop.target), iter=loop.iter, ifs=[], is_async=0)
    replay = _replay(outputs, printed, buffers, error, alloc)
    _fold_into(replay, accs, folds, alloc)
    _store_into(replay, dicts, stores, alloc)
    replay.iter = gather_each(element, [comp])
    return LoopRewrite([func, replay, *loop.orelse], helper, deferrer.used_print)


def _fold_into(
    replay: ast.For, accs: dict[str, ast.operator], folds: dict[str, str], alloc: NameAllocator
) -> None:
    """`for _t in _total_terms: total += _t` in the replay, before a failure is re-raised."""
    for name, op in accs.items():
        term = alloc.fresh("term")
        fold = ast.For(
            target=ast.Name(term, ast.Store()),
            iter=ast.Name(folds[name], ast.Load()),
            body=[ast.AugAssign(ast.Name(name, ast.Store()), op, ast.Name(term, ast.Load()))],
            orelse=[],
        )
        replay.body.insert(len(replay.body) - 1, fold)


def _store_into(
    replay: ast.For, dicts: dict[str, int], stores: dict[str, str], alloc: NameAllocator
) -> None:
    """`for _k, _v in _d_stores: d[_k] = _v` in the replay, before a failure is re-raised."""
    for name, depth in dicts.items():
        keys = [alloc.fresh("key") for _ in range(depth)]
        value = alloc.fresh("value")
        path = name + "".join(f"[{k}]" for k in keys)
        text = f"for {', '.join([*keys, value])} in {stores[name]}:\n    {path} = {value}"
        replay.body.insert(len(replay.body) - 1, _parse_stmt(text))


def _outputs(outputs: list[str], error: str) -> str:
    return ", ".join([*outputs, error]) if outputs else error


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _parse_stmt(text: str) -> ast.stmt:
    return ast.parse(text).body[0]


def _replay(
    outputs: list[str],
    printed: str | None,
    buffers: dict[str, str],
    error: str,
    alloc: NameAllocator,
) -> ast.For:
    """`for <outputs>, error in <gathered>:` print, extend, re-raise: in iteration order."""
    lines = [f"for {_outputs(outputs, error)} in ITERATIONS:"]
    if printed:
        args, kwargs = alloc.fresh("args"), alloc.fresh("kwargs")
        lines += [f"    for {args}, {kwargs} in {printed}:", f"        print(*{args}, **{kwargs})"]
    lines += [f"    {name}.extend({buffer})" for name, buffer in buffers.items()]
    lines += [f"    if {error} is not None:", f"        raise {error}"]
    replay = _parse_stmt("\n".join(lines))
    assert isinstance(replay, ast.For)
    return mark(replay)  # type: ignore[return-value]
