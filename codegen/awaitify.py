"""ImagePatch programs (sync, ViperGPT style) -> async programs over the `*_async` twins.

Every model method call `patch.simple_query(q)` becomes `await patch.simple_query_async(q)`;
functions that (transitively) make such calls become `async def` and their calls are
awaited. `min/max/sorted(xs, key=lambda p: <model call>)` first computes the keys in a
list comprehension (which the gather pass then runs at once) and picks from the pairs:
`min(xs, key=f)` == `min(zip(keys, xs), key=lambda pair: pair[0])[1]` (first minimum, as
min does; sorted is stable either way). What cannot be converted faithfully (a model call
in a short-circuiting `any(...)`, in a lambda used elsewhere, at module level) raises
Unsupported, and the program stays serial.
"""

from __future__ import annotations

import ast
import copy

from codegen.astutil import ASYNC_SUFFIX, MODEL_FUNCTIONS, MODEL_METHODS, module_functions

KEY_FUNCTIONS = ("min", "max", "sorted")
# Builtins that consume their whole iterable: a generator argument can become a list.
CONSUMERS = frozenset(
    {
        "list",
        "tuple",
        "set",
        "sorted",
        "sum",
        "min",
        "max",
        "len",
        "dict",
        "enumerate",
        "zip",
        "join",
    }
)
STRING_RESULT_METHODS = frozenset({"simple_query", "llm_query", "best_text_match"})


class Unsupported(Exception):
    """This ImagePatch program cannot be made async faithfully; the message says why."""


def is_model_call(node: ast.AST, stringy: set[str]) -> bool:
    """A sync ImagePatch model method call (`x.find(...)`, not `"text".find(...)`), or a
    call of a model-calling free function (best_image_match)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in MODEL_FUNCTIONS
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr not in MODEL_METHODS:
        return False
    receiver = node.func.value
    if node.func.attr == "find":
        if isinstance(receiver, ast.Constant | ast.JoinedStr):
            return False
        if isinstance(receiver, ast.Name) and receiver.id in stringy:
            return False
    return True


def uses_sync_image_patch(tree: ast.Module) -> bool:
    stringy = _string_names(tree)
    return any(is_model_call(n, stringy) for n in ast.walk(tree))


def _string_names(tree: ast.AST) -> set[str]:
    """Names only ever bound to strings (so that `name.find(...)` is str.find)."""
    good: set[str] = set()
    bad: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            (good if _is_string_expr(node.value) else bad).add(node.targets[0].id)
    return good - bad


def _is_string_expr(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id == "str"
        if isinstance(node.func, ast.Attribute):
            return node.func.attr in STRING_RESULT_METHODS | {"lower", "upper", "strip", "join"}
    return False


def awaitify(tree: ast.Module) -> list[str]:
    """Convert in place; returns notes on what was converted."""
    stringy = _string_names(tree)
    functions = module_functions(tree)
    needs = _functions_needing_async(functions, stringy)
    for stmt in tree.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            is_model_call(n, stringy) for n in ast.walk(stmt)
        ):
            raise Unsupported("a model method is called at module level")
    _check_only_called(tree, needs)
    notes = []
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in needs:
            converter = _Converter(stringy, needs)
            body = [converter.visit(s) for s in stmt.body]
            tree.body[i] = _as_async(stmt, body)
            notes.append(f"{stmt.name}: ImagePatch model calls awaited via their *_async twins")
    return notes


def _functions_needing_async(
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef], stringy: set[str]
) -> set[str]:
    needs = {
        name for name, f in functions.items() if any(is_model_call(n, stringy) for n in ast.walk(f))
    }
    changed = True
    while changed:
        changed = False
        for name, func in functions.items():
            if name not in needs and any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in needs
                for n in ast.walk(func)
            ):
                needs.add(name)
                changed = True
    return needs


def _check_only_called(tree: ast.Module, needs: set[str]) -> None:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in needs and id(node) not in called:
            raise Unsupported(f"function {node.id!r} is used as a value, not only called")


def _as_async(
    func: ast.FunctionDef | ast.AsyncFunctionDef, body: list[ast.stmt]
) -> ast.AsyncFunctionDef:
    new = ast.AsyncFunctionDef(
        name=func.name,
        args=func.args,
        body=body,
        decorator_list=func.decorator_list,
        returns=func.returns,
    )
    return ast.copy_location(new, func)


class _Converter(ast.NodeTransformer):
    def __init__(self, stringy: set[str], needs: set[str]) -> None:
        self.stringy = stringy
        self.needs = needs

    def _has_model_call(self, node: ast.AST) -> bool:
        return any(
            is_model_call(n, self.stringy)
            or (
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.needs
            )
            for n in ast.walk(node)
        )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if self._has_model_call(node):
            raise Unsupported(f"nested function {node.name!r} calls a model")
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        """`xs.sort(key=lambda p: <model call>)` -> `xs[:] = sorted(xs, key=...)`, keys
        gathered first (sorted is stable as list.sort is; in place, so aliases agree)."""
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "sort"
            and isinstance(call.func.value, ast.Name)
            and not call.args
            and any(k.arg == "key" and self._has_model_call(k.value) for k in call.keywords)
        ):
            items = call.func.value
            as_sorted = ast.Call(
                ast.Name("sorted", ast.Load()), [copy.deepcopy(items)], call.keywords
            )
            target = ast.Subscript(ast.Name(items.id, ast.Load()), ast.Slice(), ast.Store())
            assign = ast.Assign(targets=[target], value=self.visit(as_sorted))
            return ast.copy_location(assign, node)
        return self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        if self._has_model_call(node):
            raise Unsupported("a lambda calls a model (only min/max/sorted keys are supported)")
        return node

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        if self._has_model_call(node):
            raise Unsupported("a generator expression that may stop early calls a model")
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        keyed = self._key_function(node)
        if keyed is not None:
            return self.visit(keyed)
        node.args = [self._consumed(node, a) for a in node.args]
        self.generic_visit(node)
        if is_model_call(node, self.stringy):
            if isinstance(node.func, ast.Name):
                node.func.id += ASYNC_SUFFIX
            else:
                assert isinstance(node.func, ast.Attribute)
                node.func.attr += ASYNC_SUFFIX
            return ast.Await(value=node)
        if isinstance(node.func, ast.Name) and node.func.id in self.needs:
            return ast.Await(value=node)
        return node

    def _consumed(self, call: ast.Call, arg: ast.expr) -> ast.expr:
        """A generator fully consumed by its caller becomes a list comprehension."""
        if not isinstance(arg, ast.GeneratorExp) or not self._has_model_call(arg):
            return arg
        name = (
            call.func.id
            if isinstance(call.func, ast.Name)
            else call.func.attr
            if isinstance(call.func, ast.Attribute)
            else ""
        )
        if name not in CONSUMERS:
            raise Unsupported(f"{name or 'a call'}(...) may stop early over model calls")
        return ast.ListComp(elt=arg.elt, generators=arg.generators)

    def _key_function(self, node: ast.Call) -> ast.expr | None:
        """min/max/sorted with a key that calls a model -> keys first, then pick by pair."""
        if not (isinstance(node.func, ast.Name) and node.func.id in KEY_FUNCTIONS):
            return None
        key = next((k for k in node.keywords if k.arg == "key"), None)
        if (
            key is None
            or not isinstance(key.value, ast.Lambda)
            or not self._has_model_call(key.value)
        ):
            return None
        lam = key.value
        others = [k for k in node.keywords if k is not key]
        if (
            len(node.args) != 1
            or len(lam.args.args) != 1
            or any(k.arg != "reverse" for k in others)
            or not _reevaluable_name(node.args[0])
        ):
            raise Unsupported(f"{node.func.id}(..., key=<model call>) in an unsupported form")
        items = node.args[0]
        param = lam.args.args[0].arg
        keys = ast.ListComp(
            elt=lam.body,
            generators=[
                ast.comprehension(
                    target=ast.Name(param, ast.Store()),
                    iter=copy.deepcopy(items),
                    ifs=[],
                    is_async=0,
                )
            ],
        )
        pairs = ast.Call(ast.Name("zip", ast.Load()), [keys, copy.deepcopy(items)], [])
        by_key = ast.keyword("key", ast.parse("lambda pair: pair[0]", mode="eval").body)
        picked = ast.Call(ast.Name(node.func.id, ast.Load()), [pairs], [by_key, *others])
        if node.func.id == "sorted":
            return ast.ListComp(
                elt=ast.parse("pair[1]", mode="eval").body,
                generators=[
                    ast.comprehension(
                        target=ast.Name("pair", ast.Store()), iter=picked, ifs=[], is_async=0
                    )
                ],
            )
        return ast.Subscript(value=picked, slice=ast.Constant(1), ctx=ast.Load())


def _reevaluable_name(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)
