"""Deliberately wrong distributed programs: the verifier's own test.

Each mutation makes a program that differs from the serial one in a way a user would
care about: a print moved, a call dropped or added, a call's failure swallowed (the
`asyncio.gather(..., return_exceptions=True)` mistake), an IndexError swallowed, an
exception changed. `dicec codegen verify` must reject every one that is observable.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable

from codegen.astutil import entry_point, is_async_model_method_call, is_gather_call, is_hermod_call

MUTANT_NONE = "_mutant_none"
MUTANT_NONE_SOURCE = f"async def {MUTANT_NONE}():\n    return None\n"


def _entry(tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef:
    func = entry_point(tree)
    assert func is not None
    return func


def reordered_print(tree: ast.Module) -> bool:
    """Two prints of one block swapped; a lone print moved to the start of the entry."""
    for node in ast.walk(_entry(tree)):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            prints = [i for i, s in enumerate(block) if _is_print(s)]
            if len(prints) >= 2:
                i, j = prints[0], prints[1]
                block[i], block[j] = block[j], block[i]
                return True
    for node in ast.walk(_entry(tree)):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and any(_is_print(s) for s in block):
                stmt = next(s for s in block if _is_print(s))
                block.remove(stmt)
                if not block:
                    block.append(ast.Pass())
                _entry(tree).body.insert(0, stmt)
                return True
    return False


def _is_print(stmt: ast.AST) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Name)
        and stmt.value.func.id == "print"
    )


def _is_model_call(node: ast.AST) -> bool:
    return is_hermod_call(node) or is_async_model_method_call(node)


def dropped_call(tree: ast.Module) -> bool:
    """The first model call replaced by an awaitable that answers None."""
    for parent in ast.walk(_entry(tree)):
        for field, value in ast.iter_fields(parent):
            items = value if isinstance(value, list) else [value]
            for k, item in enumerate(items):
                if _is_model_call(item):
                    new = ast.Call(ast.Name(MUTANT_NONE, ast.Load()), [], [])
                    if isinstance(value, list):
                        value[k] = new
                    else:
                        setattr(parent, field, new)
                    tree.body[:0] = ast.parse(MUTANT_NONE_SOURCE).body
                    return True
    return False


def extra_call(tree: ast.Module) -> bool:
    """One more call, at the start of the entry point."""
    func = _entry(tree)
    param = func.args.args[0].arg if func.args.args else "image"
    if func.name == "execute_command":
        text = f"await ImagePatch({param}).simple_query_async('an extra question?')"
    else:
        text = "await hermod.call('noop', value=0)"
    func.body.insert(0, ast.parse(text).body[0])
    return True


def swallowed_call_error(tree: ast.Module) -> bool:
    """Failures of gathered calls returned as values (return_exceptions=True)."""
    unwrap = {"_call_outcome", "_settled", "_settled_all"}
    changed = False
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in unwrap
            ):
                setattr(node, field, value.args[0])
            elif isinstance(value, list):
                for k, item in enumerate(value):
                    if (
                        isinstance(item, ast.Call)
                        and isinstance(item.func, ast.Name)
                        and item.func.id in unwrap
                    ):
                        value[k] = item.args[0]
    for node in ast.walk(tree):
        if is_gather_call(node):
            assert isinstance(node, ast.Call)
            node.keywords.append(ast.keyword("return_exceptions", ast.Constant(True)))
            changed = True
    if not changed:
        changed = _gather_first_call(tree)
    if changed and not any(
        isinstance(s, ast.Import) and s.names[0].name == "asyncio" for s in tree.body
    ):
        tree.body.insert(0, ast.Import([ast.alias("asyncio")]))
    return changed


def _gather_first_call(tree: ast.Module) -> bool:
    for node in ast.walk(_entry(tree)):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.Await) and _is_model_call(value.value):
                text = "(await asyncio.gather(CALL, return_exceptions=True))[0]"
                new = ast.parse(text, mode="eval").body
                assert isinstance(new, ast.Subscript) and isinstance(new.value, ast.Await)
                gathered = new.value.value
                assert isinstance(gathered, ast.Call)
                gathered.args[0] = value.value
                setattr(node, field, new)
                return True
    return False


def _wrapped(tree: ast.Module, handler: str) -> bool:
    func = _entry(tree)
    wrapper = ast.parse(f"try:\n    pass\n{handler}").body[0]
    assert isinstance(wrapper, ast.Try)
    wrapper.body = func.body
    func.body = [wrapper]
    return True


def swallowed_index_error(tree: ast.Module) -> bool:
    """An IndexError the serial program raises, caught and answered with None."""
    return _wrapped(tree, "except IndexError:\n    return None\n")


def changed_exception(tree: ast.Module) -> bool:
    """Every exception re-raised as a RuntimeError with the same message."""
    return _wrapped(tree, "except Exception as e:\n    raise RuntimeError(str(e)) from None\n")


MUTATIONS: dict[str, Callable[[ast.Module], bool]] = {
    "reordered print": reordered_print,
    "dropped call": dropped_call,
    "extra call": extra_call,
    "swallowed call error": swallowed_call_error,
    "swallowed IndexError": swallowed_index_error,
    "changed exception": changed_exception,
}


def mutants(distributed: str) -> dict[str, str | None]:
    """Each mutation of a distributed program; None where it does not apply."""
    out: dict[str, str | None] = {}
    for name, mutate in MUTATIONS.items():
        tree = copy.deepcopy(ast.parse(distributed))
        out[name] = ast.unparse(ast.fix_missing_locations(tree)) if mutate(tree) else None
    return out
