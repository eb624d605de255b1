"""Which expressions and statements cannot raise: the facts that let a call move earlier.

A call may be moved above a statement only when that statement cannot raise or diverge
on a failure-free run (else the serial program would stop before the call, and the
distributed one would make a call the serial one never makes). Nearly everything in
Python can raise, so this module proves the opposite for a small, typed vocabulary:
constants, bound names, f-strings without format specs, displays, `==`/`is` tests,
arithmetic on numbers, subscripts of a call result by a key its result schema requires,
`.get` on a result, `len` of a list, ImagePatch attributes and crops, print. Types come
from the catalogue's result schemas and the ImagePatch API (a flow-insensitive map: a
name is typed only when every binding in the function agrees). Anything else may raise.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from codegen.astutil import (
    ASYNC_SUFFIX,
    hermod_function_name,
    is_generated,
    is_hermod_call,
    module_functions,
    target_names,
)
from codegen.liveness import certainly_assigned
from worker_models.registry import FunctionInfo

NUM, INT, STR, BOOL = "num", "int", "str", "bool"
IMAGE, PATCH, PATCHES = "image", "patch", "patches"
LIST, DICT = "list", "dict"  # made by a display or comprehension in this function
PATCH_NUMBERS = frozenset(
    ["left", "lower", "right", "upper", "width", "height", "horizontal_center", "vertical_center"]
)
MODEL_RESULT = {
    "find": PATCHES,
    "exists": BOOL,
    "verify_property": BOOL,
    "simple_query": STR,
    "best_text_match": STR,
    "llm_query": STR,
    "compute_depth": NUM,
}
INFER_PASSES = 6
SAFE_COMPARE = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)
NUMBER_OPS = (ast.Add, ast.Sub, ast.Mult)
# Helpers the compiler writes; they raise only a call's own failure, where it was met.
SETTLE_NAMES = frozenset({"_settled", "_settled_all", "_call_outcome"})


@dataclass(frozen=True)
class Schema:
    """A JSON value described by (part of) a result schema."""

    schema: Any  # a dict; frozen dataclass over a dict: compared by identity
    defs: Any

    def resolved(self) -> dict[str, Any]:
        node = self.schema
        while isinstance(node, dict) and "$ref" in node:
            node = self.defs.get(node["$ref"].split("/")[-1], {})
        return node if isinstance(node, dict) else {}

    def kind(self) -> str | None:
        kind = self.resolved().get("type")
        return kind if isinstance(kind, str) else None

    def item(self) -> Schema | None:
        items = self.resolved().get("items")
        return Schema(items, self.defs) if self.kind() == "array" and items else None

    def required(self, key: str) -> Schema | None:
        node = self.resolved()
        if self.kind() != "object" or key not in node.get("required", []):
            return None
        return Schema(node.get("properties", {}).get(key, {}), self.defs)


Type = str | Schema | None


def scalar(t: Type) -> str | None:
    if isinstance(t, Schema):
        return {"integer": INT, "number": NUM, "string": STR, "boolean": BOOL}.get(t.kind() or "")
    return t


def is_number(t: Type) -> bool:
    return scalar(t) in (NUM, INT)


def is_sized(t: Type) -> bool:
    return t in (PATCHES, STR, LIST, DICT) or (
        isinstance(t, Schema) and t.kind() in ("array", "string")
    )


@dataclass
class TypeEnv:
    """Types of a function's names, and which names are always bound where they are read."""

    functions: dict[str, FunctionInfo]
    types: dict[str, Type] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)  # params, module names, builtins used
    helper_arity: dict[str, int] = field(default_factory=dict)
    key_removers: set[str] = field(default_factory=set)  # dicts that may lose keys
    module_bindings: list[ast.stmt] = field(default_factory=list)  # of its global names

    def of(self, node: ast.expr) -> Type:
        return type_of(node, self)


def build_env(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    module: ast.Module,
    functions: list[FunctionInfo],
) -> TypeEnv:
    env = TypeEnv({f.name: f for f in functions})
    env.bound |= {a.arg for a in func.args.args + func.args.kwonlyargs}
    env.bound |= {"hermod", "asyncio", "ImagePatch", "Image", "print", "len", "str", "repr"}
    env.bound |= {"bool", "isinstance", "int", "float", "abs", "round", "dict", "set", "list"}
    env.bound |= {"tuple", "zip", "sorted", "min", "max", "sum", "enumerate", "range", "any"}
    env.bound |= {"all", "reversed", *SETTLE_NAMES}
    for stmt in module.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            env.bound.add(stmt.name)
            a = stmt.args
            if not (a.vararg or a.kwarg or a.kwonlyargs or a.defaults):
                env.helper_arity[stmt.name] = len(a.args)
    declared = {n for g in ast.walk(func) if isinstance(g, ast.Global) for n in g.names}
    assigns = [s for s in module.body if isinstance(s, ast.Assign)]
    names_of = {id(s): {n for t in s.targets for n in target_names(t)} for s in assigns}
    env.bound |= declared & set().union(*names_of.values())  # the module ran first
    env.module_bindings = [s for s in assigns if declared & names_of[id(s)]]
    params = [a.arg for a in func.args.args]
    if func.name == "execute_command" and params:
        env.types[params[0]] = IMAGE
    if func.name == "execute_query" and params:
        env.types[params[0]] = STR
    env.key_removers = _key_removers(func)
    _infer(func, env)
    return env


# Calls that never remove a key from a dict they are given.
KEY_KEEPING_CALLS = (
    frozenset(
        [
            "print",
            "len",
            "str",
            "repr",
            "bool",
            "int",
            "float",
            "sorted",
            "min",
            "max",
            "sum",
            "list",
            "tuple",
            "set",
            "dict",
            "enumerate",
            "zip",
            "isinstance",
            "range",
            "abs",
            "round",
            "ImagePatch",
            "bool_to_yesno",
            "distance",
        ]
    )
    | SETTLE_NAMES
)


def _key_removers(func: ast.AST) -> set[str]:
    """Names whose keys may go: `del d[k]`, `d.pop(...)`, or handed to code that might
    (an argument of a call not known to keep keys, an alias `x = d`). A required key of
    their type is then no longer a fact: they are left untyped."""
    out: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Delete):
            out |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            out.add(node.value.id)
            out |= {n for t in node.targets for n in target_names(t)}
        elif isinstance(node, ast.Call) and not _keeps_keys(node):
            args = [*node.args, *(k.value for k in node.keywords)]
            out |= {a.id for a in args if isinstance(a, ast.Name)}
            if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "pop",
                "popitem",
                "clear",
            ):
                out |= {n.id for n in ast.walk(node.func.value) if isinstance(n, ast.Name)}
    return out


def _loses_keys(name: str, t: Type, env: TypeEnv) -> bool:
    """A result or display object (or a list of them) whose keys may be removed."""
    return name in env.key_removers and isinstance(t, Schema)


def _keeps_keys(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in KEY_KEEPING_CALLS
    if is_hermod_call(node) or (isinstance(func, ast.Attribute) and func.attr == "gather"):
        return True
    return isinstance(func, ast.Attribute) and (
        func.attr.endswith(ASYNC_SUFFIX) or func.attr in ("get", "append", "crop", "format")
    )


def _infer(func: ast.AST, env: TypeEnv) -> None:
    """Flow-insensitive, to a fixpoint: a name bound two incompatible ways is untyped."""
    base = dict(env.types)  # the entry point's parameter
    for _ in range(INFER_PASSES):
        seen: dict[str, Type] = {}
        conflicted: set[str] = set()
        for name, t in _bindings(func, env):
            if name in seen and is_number(seen[name]) and is_number(t):
                seen[name] = INT if scalar(seen[name]) == scalar(t) == INT else NUM
            elif name in seen and seen[name] != t:
                conflicted.add(name)
            else:
                seen[name] = t
        new = {
            k: v
            for k, v in seen.items()
            if v is not None and k not in conflicted and not _loses_keys(k, v, env)
        }
        new = {**new, **{k: v for k, v in base.items() if k not in seen}}
        if new == env.types:
            return
        env.types = new


def _bindings(func: ast.AST, env: TypeEnv) -> list[tuple[str, Type]]:  # noqa: C901 - by kind
    out: list[tuple[str, Type]] = []
    nodes = [n for root in [func, *env.module_bindings] for n in ast.walk(root)]
    for node in nodes:
        if isinstance(node, ast.Assign):
            if _is_settle(node.value):
                continue  # `x = _settled(x)`: x keeps the type of its call
            if is_generated(node.value):
                out += _gathered_bindings(node, env)
                continue
            value_type = type_of(node.value, env)
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in env.key_removers:
                    value_type = DICT if isinstance(node.value, ast.Dict) else None
                out += _bind(target, value_type, node.value, env)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            value = type_of(node.value, env)  # `n += 1` keeps n a number, `s += "x"` a string
            kept = isinstance(node.op, ast.Add | ast.Sub | ast.Mult) and (
                is_number(value) or (scalar(value) == STR and isinstance(node.op, ast.Add))
            )
            out.append((node.target.id, value if kept else None))
        elif isinstance(node, ast.For | ast.comprehension):
            out += _bind(node.target, _item_type(node.iter, env), None, env)
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) or (
            isinstance(node, ast.ExceptHandler) and node.name
        ):
            names = [node.name] if isinstance(node, ast.ExceptHandler) else []
            if not isinstance(node, ast.ExceptHandler):
                names = target_names(node.target)
            out += [(n, None) for n in names if n]
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    out += [(n, None) for n in target_names(item.optional_vars)]
    return out


def _is_settle(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in SETTLE_NAMES
    )


def _gathered_bindings(node: ast.Assign, env: TypeEnv) -> list[tuple[str, Type]]:
    """`a, b = await asyncio.gather(_call_outcome(A), _call_outcome(B))`: a is A's type."""
    target, value = node.targets[0], node.value
    call = value.value if isinstance(value, ast.Await) else None
    if not (isinstance(target, ast.Tuple) and isinstance(call, ast.Call)):
        return [(n, None) for n in target_names(target)]
    out: list[tuple[str, Type]] = []
    for sub, arg in zip(target.elts, call.args, strict=False):
        inner = arg.args[0] if isinstance(arg, ast.Call) and arg.args else arg
        out += [(n, _awaited_type(inner, env)) for n in target_names(sub)]
    return out


def _bind(
    target: ast.expr, t: Type, value: ast.expr | None, env: TypeEnv
) -> list[tuple[str, Type]]:
    if isinstance(target, ast.Name):
        return [(target.id, t)]
    if isinstance(target, ast.Tuple | ast.List):
        parts: list[Type] = [None] * len(target.elts)
        if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
            parts = [type_of(v, env) for v in value.elts]
        elif isinstance(t, tuple):
            parts = list(t)
        out: list[tuple[str, Type]] = []
        for sub, sub_t in zip(target.elts, parts, strict=False):
            out += _bind(sub, sub_t, None, env)
        return out
    return []


def _item_type(iterable: ast.expr, env: TypeEnv) -> Any:
    """The type of one element (a tuple of types for enumerate)."""
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
        if iterable.func.id == "enumerate" and len(iterable.args) == 1:
            return (INT, _element(env.of(iterable.args[0])))
        if iterable.func.id == "range":
            return INT
        if iterable.func.id == "zip" and iterable.args:
            return tuple(_element(env.of(a)) for a in iterable.args)
    return _element(env.of(iterable))


def _element(t: Type) -> Type:
    if t == PATCHES:
        return PATCH
    if isinstance(t, Schema):
        return t.item()
    return None


def type_of(node: ast.expr, env: TypeEnv) -> Type:  # noqa: C901 - a type table
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return BOOL
        if isinstance(node.value, int | float):
            return NUM if isinstance(node.value, float) else INT
        return STR if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return STR
    if (
        isinstance(node, ast.List)
        and node.elts
        and all(
            isinstance(e, ast.Constant) and type(e.value) in (str, int, float) for e in node.elts
        )
    ):
        kinds = {type(e.value) for e in node.elts}
        kind = "string" if kinds == {str} else "number" if str not in kinds else None
        if kind is not None:  # a list of constants: typed like a result array
            return Schema({"type": "array", "items": {"type": kind}}, {})
    if isinstance(node, ast.ListComp):
        return _sorted_pairs_type(node, env) or LIST
    if isinstance(node, ast.List):
        return LIST
    if isinstance(node, ast.Dict) and node.keys:
        schema = _display_schema(node)
        if schema is not None:  # constant keys: typed like a result object
            return Schema(schema, {})
    if isinstance(node, ast.Dict | ast.DictComp):
        return DICT
    if isinstance(node, ast.Name):
        return env.types.get(node.id)
    if isinstance(node, ast.Await):
        return _awaited_type(node.value, env)
    if isinstance(node, ast.Subscript):
        picked = _picked_type(node, env)
        if picked is not None:
            return picked
        base = env.of(node.value)
        if isinstance(base, Schema) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
            return base.required(key) if isinstance(key, str) else base.item()
        if isinstance(base, Schema) and base.kind() == "array":
            return base.item()
        return PATCH if base == PATCHES and not isinstance(node.slice, ast.Slice) else None
    if isinstance(node, ast.Attribute):
        base = env.of(node.value)
        if base == PATCH:
            return IMAGE if node.attr == "image" else NUM if node.attr in PATCH_NUMBERS else None
        return None
    if isinstance(node, ast.BinOp):
        left, right = env.of(node.left), env.of(node.right)
        if is_number(left) and is_number(right):
            return INT if scalar(left) == scalar(right) == INT else NUM
        return STR if scalar(left) == scalar(right) == STR else None
    if isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        return BOOL if isinstance(node, ast.Compare | ast.UnaryOp) else None
    if isinstance(node, ast.Call):
        return _call_type(node, env)
    return None


def _display_schema(node: ast.Dict) -> dict[str, Any] | None:
    """`{"cars": {}, "n": 0}` -> an object schema requiring those keys (nested displays
    too); None unless every key is a string constant."""
    props: dict[str, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        if isinstance(value, ast.Dict):
            inner = _display_schema(value) if value.keys else {"type": "object"}
            props[key.value] = inner or {"type": "object"}
        else:
            props[key.value] = {}
    return {"type": "object", "required": list(props), "properties": props}


def _sorted_pairs_type(node: ast.ListComp, env: TypeEnv) -> Type:
    """`[pair[1] for pair in sorted(zip(keys, xs), ...)]` (awaitify's keyed sorted): xs's."""
    gen = node.generators[0] if len(node.generators) == 1 else None
    if gen is None or gen.ifs or ast.unparse(node.elt) != f"{ast.unparse(gen.target)}[1]":
        return None
    call = gen.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    inner = call.args[0] if call.func.id == "sorted" and call.args else None
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)):
        return None
    if inner.func.id != "zip" or len(inner.args) != 2:
        return None
    items = env.of(inner.args[1])
    return items if items == PATCHES or isinstance(items, Schema) else None


def _picked_type(node: ast.Subscript, env: TypeEnv) -> Type:
    """`min(zip(keys, xs), key=...)[1]` (awaitify's keyed min/max): an element of xs."""
    call = node.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in ("min", "max")
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == 1
        and call.args
        and isinstance(call.args[0], ast.Call)
        and isinstance(call.args[0].func, ast.Name)
        and call.args[0].func.id == "zip"
        and len(call.args[0].args) == 2
    ):
        return None
    return _element(env.of(call.args[0].args[1]))


def _awaited_type(call: ast.expr, env: TypeEnv) -> Type:
    if is_hermod_call(call):
        assert isinstance(call, ast.Call)
        info = env.functions.get(hermod_function_name(call) or "")
        if info is None:
            return None
        schema = Schema(info.result_schema, info.result_schema.get("$defs", {}))
        return schema.required(info.unwrap) if info.unwrap else schema
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        name = call.func.attr.removesuffix(ASYNC_SUFFIX)
        if call.func.attr.endswith(ASYNC_SUFFIX) and env.of(call.func.value) == PATCH:
            return MODEL_RESULT.get(name)
    return None


def _call_type(node: ast.Call, env: TypeEnv) -> Type:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id in ("len", "int", "round"):
            return INT
        if func.id in ("str", "repr"):
            return STR
        if func.id in ("bool", "isinstance"):
            return BOOL
        if func.id == "float":
            return NUM
        if func.id == "ImagePatch":
            return PATCH
    if isinstance(func, ast.Attribute):
        base = env.of(func.value)
        if func.attr == "crop":
            return PATCH if base == PATCH else IMAGE if base == IMAGE else None
        if func.attr == "open" and isinstance(func.value, ast.Name) and func.value.id == "Image":
            return IMAGE
    return None


# -- may it raise? ----------------------------------------------------------------------
def expr_may_raise(node: ast.expr, env: TypeEnv, bound: set[str]) -> bool:
    """True unless evaluating `node` provably cannot raise (its awaits aside)."""
    return _Raiser(env, bound).expr(node)


def stmt_may_raise(stmt: ast.stmt, env: TypeEnv, bound: set[str]) -> bool:
    """True unless running `stmt` provably cannot raise, exit or diverge (call failures of
    awaited pure calls aside: those are re-raised where they were met)."""
    return _Raiser(env, bound).stmt(stmt)


class _Raiser:
    def __init__(self, env: TypeEnv, bound: set[str]) -> None:
        self.env = env
        self.bound = set(bound) | env.bound

    def stmt(self, stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.AsyncFunctionDef) and is_generated(stmt)
        ):
            return False  # (defining a compiler-made helper runs nothing)
        if isinstance(stmt, ast.Assign):
            if is_generated(stmt.value) and all(_names_only(t) for t in stmt.targets):
                return False  # a compiler-made gather of call outcomes: it cannot raise
            if any(not self._target_ok(t, stmt.value) for t in stmt.targets):
                return True
            raises = self.expr(stmt.value)
            for target in stmt.targets:
                self.bound |= set(target_names(target))
            return raises
        if isinstance(stmt, ast.AugAssign):
            if not isinstance(stmt.target, ast.Name) or stmt.target.id not in self.bound:
                return True
            binop = ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value)
            return self.expr(binop)
        if isinstance(stmt, ast.Expr):
            return self.expr(stmt.value)
        if isinstance(stmt, ast.If):
            if self.expr(stmt.test):
                return True
            before = set(self.bound)
            body = any(self.stmt(s) for s in stmt.body)
            self.bound = set(before)
            orelse = any(self.stmt(s) for s in stmt.orelse)
            self.bound = before
            return body or orelse
        return True

    def _target_ok(self, target: ast.expr, value: ast.expr) -> bool:
        if isinstance(target, ast.Name):
            return True
        base = self.env.of(target.value) if isinstance(target, ast.Subscript) else None
        is_dict = base == DICT or (isinstance(base, Schema) and base.kind() == "object")
        if isinstance(target, ast.Subscript) and is_dict and not self.expr(target.value):
            key = scalar(self.env.of(target.slice))
            return key in (STR, INT, NUM, BOOL) and not self.expr(target.slice)
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            return len(target.elts) == len(value.elts) and all(
                isinstance(e, ast.Name) for e in target.elts
            )
        return False

    def expr(self, node: ast.expr) -> bool:  # noqa: C901 - one case per node kind
        env = self.env
        if isinstance(node, ast.Constant):
            return False
        if isinstance(node, ast.Name):
            return node.id not in self.bound
        if isinstance(node, ast.Await):
            return not is_generated(node) and self._awaitable(node.value)
        if isinstance(node, ast.JoinedStr):
            return any(self.expr(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return node.format_spec is not None or self.expr(node.value)
        if isinstance(node, ast.Tuple | ast.List):
            return any(self.expr(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(k is None or not isinstance(k, ast.Constant) for k in node.keys) or any(
                self.expr(v) for v in node.values
            )
        if isinstance(node, ast.BoolOp):
            return any(self.expr(v) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            ok = isinstance(node.op, ast.Not) or is_number(env.of(node.operand))
            return not ok or self.expr(node.operand)
        if isinstance(node, ast.IfExp):
            return self.expr(node.test) or self.expr(node.body) or self.expr(node.orelse)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BinOp):
            return env.of(node) is None or self.expr(node.left) or self.expr(node.right)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Attribute):
            return env.of(node) is None or self.expr(node.value)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.ListComp):
            return self._listcomp(node)
        return True

    def _iterable(self, node: ast.expr) -> bool:
        """Iterating it cannot raise: a typed list, or zip/enumerate/range over such."""
        t = self.env.of(node)
        if t in (PATCHES, LIST, STR, DICT) or (
            isinstance(t, Schema) and t.kind() in ("array", "string")
        ):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name, args = node.func.id, node.args
            if name in ("zip", "enumerate") and args:
                return all(self._iterable(a) for a in args) and (name == "zip" or len(args) == 1)
            if name == "range":
                return all(is_number(self.env.of(a)) for a in args) and 1 <= len(args) <= 2
            if name in SETTLE_NAMES:
                return True
        return False

    def _listcomp(self, node: ast.ListComp) -> bool:
        saved = set(self.bound)
        try:
            for gen in node.generators:
                if gen.is_async or self.expr(gen.iter) or not self._iterable(gen.iter):
                    return True
                if not self._unpacks(gen.target, gen.iter):
                    return True
                self.bound |= set(target_names(gen.target))
                if any(self.expr(cond) for cond in gen.ifs):
                    return True
            return self.expr(node.elt)
        finally:
            self.bound = saved

    def _unpacks(self, target: ast.expr, iterable: ast.expr) -> bool:
        if isinstance(target, ast.Name):
            return True
        arity = None
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
            arity = {"zip": len(iterable.args), "enumerate": 2}.get(iterable.func.id)
        return (
            isinstance(target, ast.Tuple)
            and len(target.elts) == arity
            and all(isinstance(e, ast.Name) for e in target.elts)
        )

    def _hashable_items(self, node: ast.expr, pairs: bool) -> bool:
        """A list comprehension of (key, value) pairs (dict) or of items (set) whose keys
        are typed scalars: building the dict/set cannot raise."""
        if not isinstance(node, ast.ListComp):
            return False
        key = node.elt
        if pairs:
            if not (isinstance(key, ast.Tuple) and len(key.elts) == 2):
                return False
            key = key.elts[0]
        return scalar(self._comp_type(node, key)) in (STR, INT, NUM, BOOL)

    def _comp_type(self, node: ast.ListComp, elt: ast.expr) -> Type:
        """The type of `elt` inside the comprehension (its targets typed by their iterable)."""
        if isinstance(elt, ast.Name):
            for gen in node.generators:
                names = target_names(gen.target)
                if elt.id in names:
                    item = _item_type(gen.iter, self.env)
                    if isinstance(gen.target, ast.Name):
                        return item
                    index = names.index(elt.id)
                    return item[index] if isinstance(item, tuple) and index < len(item) else None
        return self.env.of(elt)

    def _compare(self, node: ast.Compare) -> bool:
        operands = [node.left, *node.comparators]
        if any(self.expr(o) for o in operands):
            return True
        if all(isinstance(op, SAFE_COMPARE) for op in node.ops):
            return False
        return not all(is_number(self.env.of(o)) for o in operands)

    def _subscript(self, node: ast.Subscript) -> bool:
        base = self.env.of(node.value)
        key = node.slice
        ok = (
            isinstance(base, Schema)
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and base.required(key.value) is not None
        )
        return not ok or self.expr(node.value)

    def _call(self, node: ast.Call) -> bool:  # noqa: C901 - one case per known call
        func, env = node.func, self.env
        args = [*node.args, *(k.value for k in node.keywords)]
        if any(isinstance(a, ast.Starred) for a in node.args) or any(self.expr(a) for a in args):
            return True
        if isinstance(func, ast.Name):
            name = func.id
            if name == "print":
                return bool(node.keywords)
            if name in SETTLE_NAMES:
                return False
            if name in ("zip", "enumerate", "range"):
                return not self._iterable(node)
            if name in ("dict", "set") and len(node.args) == 1 and not node.keywords:
                return not self._hashable_items(node.args[0], pairs=name == "dict")
            if name in ("list", "tuple") and len(node.args) == 1 and not node.keywords:
                return not self._iterable(node.args[0]) and not isinstance(
                    node.args[0], ast.ListComp
                )
            if name in ("str", "repr", "bool") and len(node.args) == 1 and not node.keywords:
                return False
            if name == "len" and len(node.args) == 1:
                return not is_sized(env.of(node.args[0]))
            if name in ("int", "float", "abs", "round") and len(node.args) == 1:
                return not is_number(env.of(node.args[0]))
            if name == "ImagePatch" and len(node.args) == 1:
                return env.of(node.args[0]) != IMAGE
            return True
        if not isinstance(func, ast.Attribute) or self.expr(func.value):
            return True
        base = env.of(func.value)
        if func.attr in ("append", "extend") and base == LIST and len(node.args) == 1:
            return func.attr == "extend" and env.of(node.args[0]) not in (LIST, PATCHES)
        if func.attr == "get" and isinstance(base, Schema) and base.kind() == "object":
            return not (1 <= len(node.args) <= 2 and not node.keywords)
        if func.attr == "crop" and base == PATCH:
            return len(node.args) != 4 or not all(is_number(env.of(a)) for a in node.args)
        if func.attr == "crop" and base == IMAGE and len(node.args) == 1:
            box = node.args[0]
            return not (
                isinstance(box, ast.Tuple)
                and len(box.elts) == 4
                and all(is_number(env.of(e)) for e in box.elts)
            )
        return True

    def _awaitable(self, call: ast.expr) -> bool:
        """Building the awaitable raises nothing (its call may fail: that is deferred)."""
        if not isinstance(call, ast.Call):
            return True
        args = [*call.args, *(k.value for k in call.keywords)]
        if any(isinstance(a, ast.Starred) for a in call.args) or any(self.expr(a) for a in args):
            return True
        if is_hermod_call(call):
            name = hermod_function_name(call)
            return name not in self.env.functions or len(call.args) != 1
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr.endswith(ASYNC_SUFFIX):
            return self.env.of(func.value) != PATCH
        if isinstance(func, ast.Name):
            arity = self.env.helper_arity.get(func.id)
            return arity is None or call.keywords != [] or len(call.args) != arity
        return True


def _names_only(target: ast.expr) -> bool:
    if isinstance(target, ast.Tuple | ast.List):
        return all(_names_only(e) for e in target.elts)
    return isinstance(target, ast.Name)


def body_may_raise(
    stmts: list[ast.stmt], env: TypeEnv, bound: set[str], returns_ok: bool = False
) -> ast.stmt | None:
    """The first statement of a body that may raise or diverge (an awaited call's failure
    aside); `continue` ends an iteration, and with `returns_ok` a return ends a helper."""
    bound = set(bound)
    for stmt in stmts:
        if isinstance(stmt, ast.Continue) or is_generated(stmt):
            continue
        if isinstance(stmt, ast.Return) and returns_ok:
            if stmt.value is not None and expr_may_raise(stmt.value, env, bound):
                return stmt
            continue
        if isinstance(stmt, ast.If | ast.Try | ast.For):
            inner = _compound_may_raise(stmt, env, bound, returns_ok)
        else:
            inner = stmt if stmt_may_raise(stmt, env, bound) else None
        if inner is not None:
            return inner
        bound |= certainly_assigned([stmt])
    return None


def _compound_may_raise(
    stmt: ast.If | ast.Try | ast.For, env: TypeEnv, bound: set[str], returns_ok: bool
) -> ast.stmt | None:
    blocks: list[tuple[list[ast.stmt], set[str]]] = []
    if isinstance(stmt, ast.If):
        if expr_may_raise(stmt.test, env, bound):
            return stmt
        blocks = [(stmt.body, bound), (stmt.orelse, bound)]
    elif isinstance(stmt, ast.Try):
        if not _catches_everything(stmt):
            return stmt
        for handler in stmt.handlers:  # the try body's own failures are caught here
            blocks.append((handler.body, bound | ({handler.name} if handler.name else set())))
        blocks.append((stmt.orelse, bound))
    else:
        if stmt.orelse or expr_may_raise(stmt.iter, env, bound):
            return stmt
        if _item_type(stmt.iter, env) is None:
            return stmt
        blocks = [(stmt.body, bound | set(target_names(stmt.target)))]
    for block, names in blocks:
        inner = body_may_raise(block, env, names, returns_ok)
        if inner is not None:
            return inner
    return None


def _catches_everything(stmt: ast.Try) -> bool:
    """`try: ... except Exception [as e]: ...` with no finally: nothing the body raises
    (short of cancellation) leaves the statement, except what the handler raises."""
    last = stmt.handlers[-1] if stmt.handlers else None
    return (
        not stmt.finalbody
        and last is not None
        and isinstance(last.type, ast.Name)
        and last.type.id == "Exception"
    )


def non_raising_helpers(
    tree: ast.Module, functions: list[FunctionInfo], purity: Any
) -> dict[str, int]:
    """Pure async helpers whose bodies cannot raise (their calls' failures aside): calling
    one early makes no call the serial program would not make. Greatest fixpoint."""
    helpers = {
        n: f
        for n, f in module_functions(tree).items()
        if isinstance(f, ast.AsyncFunctionDef) and n in purity.async_helpers
    }
    envs = {n: build_env(f, tree, functions) for n, f in helpers.items()}
    arity = {n: a for n, a in next(iter(envs.values())).helper_arity.items()} if envs else {}
    arity = {n: a for n, a in arity.items() if n in helpers}
    changed = True
    while changed:
        changed = False
        for name, func in helpers.items():
            if name not in arity:
                continue
            env = envs[name]
            env.helper_arity = arity
            if body_may_raise(func.body, env, set(env.bound), returns_ok=True) is not None:
                del arity[name]
                changed = True
    return arity
