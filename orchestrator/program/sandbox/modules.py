"""The modules a program may import, as stand-ins that expose only safe names.

A program never gets a real module object: through one it could reach others
(`typing.sys`, `dataclasses.builtins.open`, `asyncio.subprocess`). Each stand-in copies
the public, non-module, immutable attributes of the real module, minus a deny list,
plus wrappers where a function could mutate shared classes or run unbounded in C.
Stand-ins that hold per-task state (asyncio, time, random, itertools, PIL) are built
per task by runtime.py; their names are listed here for the static check.
"""

from __future__ import annotations

import bisect
import collections
import collections.abc
import copy
import dataclasses
import datetime
import functools
import heapq
import itertools
import json
import math
import statistics
import string
import types
import typing
from collections.abc import Callable
from typing import Any

from dicec.errors import ProgramResourceError, SandboxViolation
from orchestrator.program.sandbox.regex import bounded_re_attrs

PROGRAM_MODULE = "dicec_program"  # the `__name__` (and classes' `__module__`) of a program
SANDBOX_MODULE_PREFIX = "sandbox."  # not in sys.modules: `from x import y` finds nothing else
MAX_FACTORIAL_N = 20_000  # math.factorial(20000) has ~250,000 bits
MAX_COMB_BITS = 1 << 20

_DENIED: dict[str, frozenset[str]] = {
    "typing": frozenset(
        {
            "get_type_hints",
            "ForwardRef",
            "io",
            "re",
            "get_overloads",
            "clear_overloads",
            "EXCLUDED_ATTRIBUTES",
        }
    ),
    "functools": frozenset({"singledispatch", "singledispatchmethod"}),
    "string": frozenset({"Formatter"}),  # Formatter().vformat reads attributes by name
    "copy": frozenset({"dispatch_table"}),
    "json": frozenset({"load", "dump"}),  # file objects only
    "dataclasses": frozenset({"make_dataclass"}),  # accepts dunder field names
}
MAX_JSON_INDENT = 64  # json.dumps(indent=10**10) would build a 10 GB indent string
MAX_JSON_SEPARATOR = 64

ASYNCIO_NAMES = frozenset({
    "gather", "wait_for", "wait", "as_completed", "shield", "sleep", "create_task",
    "ensure_future", "run", "TaskGroup", "Semaphore", "BoundedSemaphore", "Lock", "Event",
    "Condition", "Barrier", "Queue", "LifoQueue", "PriorityQueue", "QueueEmpty", "QueueFull",
    "TimeoutError", "CancelledError", "InvalidStateError", "timeout", "iscoroutine",
    "iscoroutinefunction",
})  # fmt: skip
TIME_NAMES = frozenset({"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
                        "perf_counter_ns", "sleep", "gmtime", "localtime", "strftime",
                        "mktime", "struct_time"})  # fmt: skip
RANDOM_METHODS = ("random", "uniform", "randint", "randrange", "choice", "choices", "shuffle",
                  "sample", "gauss", "normalvariate", "lognormvariate", "triangular",
                  "betavariate", "expovariate", "vonmisesvariate", "gammavariate",
                  "paretovariate", "weibullvariate", "seed")  # fmt: skip
RANDOM_NAMES = frozenset({*RANDOM_METHODS, "Random"})
PIL_IMAGE_CONSTANTS = ("Resampling", "Transpose", "Dither", "Palette", "Quantize", "Transform",
                       "NEAREST", "BOX", "BILINEAR", "HAMMING", "BICUBIC", "LANCZOS",
                       "FLIP_LEFT_RIGHT", "FLIP_TOP_BOTTOM", "ROTATE_90", "ROTATE_180",
                       "ROTATE_270", "TRANSPOSE", "TRANSVERSE")  # fmt: skip
PIL_IMAGE_NAMES = frozenset({*PIL_IMAGE_CONSTANTS, "open", "new", "Image", "merge", "blend",
                             "composite"})  # fmt: skip
ITERTOOLS_GUARDED = ("count", "cycle", "repeat", "product", "permutations", "combinations",
                     "combinations_with_replacement")  # fmt: skip


def new_module(name: str, attrs: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(SANDBOX_MODULE_PREFIX + name)
    module.__dict__.update(attrs)
    return module


def public_attrs(real: types.ModuleType, denied: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Public attributes that are neither modules nor mutable containers, nor metaclasses
    (class factories: `typing.ABCMeta(name, bases, ns)` would give a class any dunder),
    nor what the module merely re-exports from elsewhere (`statistics.Fraction`,
    `statistics.repeat`, `statistics.mul`: unguarded C-level work)."""
    attrs = {}
    for name in dir(real):
        if name.startswith("_") or name in denied:
            continue
        value = getattr(real, name)
        if isinstance(value, types.ModuleType | dict | list | set | bytearray):
            continue
        if is_metaclass(value) or (callable(value) and not _defined_in(value, real)):
            continue
        attrs[name] = value
    return attrs


def is_metaclass(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, type)


def _defined_in(value: Any, real: types.ModuleType) -> bool:
    """A callable the module defines itself (or in its C accelerator or submodules)."""
    home = getattr(value, "__module__", None) or ""
    own = real.__name__
    return home in (own, f"_{own}", "builtins") or home.startswith(f"{own}.")


def is_program_owned(obj: Any) -> bool:
    """A class or function the program itself defined (its module is the program's)."""
    return getattr(obj, "__module__", None) == PROGRAM_MODULE


def _require_program_class(what: str, cls: Any) -> None:
    if not (isinstance(cls, type) and is_program_owned(cls)):
        raise SandboxViolation(f"{what} may only be applied to a class the program defines")


def _dataclass(cls: Any = None, /, **kwargs: Any) -> Any:
    def wrap(target: Any) -> Any:
        _require_program_class("@dataclass", target)
        return dataclasses.dataclass(target, **kwargs)

    return wrap if cls is None else wrap(cls)


def _total_ordering(cls: Any) -> Any:
    _require_program_class("@total_ordering", cls)
    return functools.total_ordering(cls)


def _update_wrapper(
    wrapper: Any,
    wrapped: Any,
    assigned: Any = functools.WRAPPER_ASSIGNMENTS,
    updated: Any = functools.WRAPPER_UPDATES,
) -> Any:
    """Only the default attributes: `updated=("__globals__",)` would copy a runtime
    function's module globals (os, sys, the real builtins) into the program's namespace."""
    if not is_program_owned(wrapper):
        raise SandboxViolation("functools.update_wrapper may only change the program's functions")
    try:
        assigned, updated = tuple(assigned), tuple(updated)
    except TypeError:
        raise SandboxViolation(
            "functools.update_wrapper: assigned/updated must be tuples"
        ) from None
    if not (set(assigned) <= set(functools.WRAPPER_ASSIGNMENTS)
            and set(updated) <= set(functools.WRAPPER_UPDATES)):  # fmt: skip
        raise SandboxViolation(
            "functools.update_wrapper: only the default attributes may be copied "
            f"(assigned within {functools.WRAPPER_ASSIGNMENTS}, updated within "
            f"{functools.WRAPPER_UPDATES})"
        )
    return functools.update_wrapper(wrapper, wrapped, assigned, updated)


def _wraps(
    wrapped: Any,
    assigned: Any = functools.WRAPPER_ASSIGNMENTS,
    updated: Any = functools.WRAPPER_UPDATES,
) -> Callable[[Any], Any]:
    def decorate(wrapper: Any) -> Any:
        return _update_wrapper(wrapper, wrapped, assigned, updated)

    return decorate


def _dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
    indent = kwargs.get("indent")
    if (
        isinstance(indent, int)
        and indent > MAX_JSON_INDENT
        or (isinstance(indent, str) and len(indent) > MAX_JSON_INDENT)
    ):
        raise ProgramResourceError(f"json.dumps: indent is over the limit of {MAX_JSON_INDENT}")
    separators = kwargs.get("separators") or ()
    if any(isinstance(s, str) and len(s) > MAX_JSON_SEPARATOR for s in separators):
        raise ProgramResourceError(
            f"json.dumps: separators over {MAX_JSON_SEPARATOR} characters are not allowed"
        )
    return json.dumps(obj, *args, **kwargs)


def _bounded(value: Any, what: str) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_COMB_BITS:
        raise ProgramResourceError(f"{what} would make an integer over {MAX_COMB_BITS} bits")
    return value


def _prod(iterable: Any, *, start: Any = 1) -> Any:
    """math.prod one factor at a time, so a huge product stops early instead of in C."""
    result = start
    for item in iterable:
        result = _bounded(result * item, "math.prod")
    return result


def _lcm(*integers: int) -> int:
    result = 1
    for value in integers:
        result = _bounded(math.lcm(result, value), "math.lcm")
    return result


def _factorial(n: int) -> int:
    if isinstance(n, int) and n > MAX_FACTORIAL_N:
        raise ProgramResourceError(f"math.factorial({n}) is over the limit of {MAX_FACTORIAL_N}")
    return math.factorial(n)


def _comb_checked(fn: Callable[[int, int], int]) -> Callable[..., int]:
    def checked(n: int, k: int | None = None) -> int:
        if isinstance(n, int) and n > 1:
            picks = n if k is None else min(k, n)
            if picks * n.bit_length() > MAX_COMB_BITS:
                raise ProgramResourceError(f"math.{fn.__name__}({n}, {k}) would be too large")
        return fn(n) if k is None else fn(n, k)

    return checked


def _build_shared() -> dict[str, types.ModuleType]:
    plain = {"json": json, "statistics": statistics, "collections.abc": collections.abc,
             "typing": typing, "string": string, "datetime": datetime, "copy": copy,
             "heapq": heapq, "bisect": bisect}  # fmt: skip
    shims = {name: new_module(name, public_attrs(real, _DENIED.get(name, frozenset())))
             for name, real in plain.items()}  # fmt: skip
    shims["json"].dumps = _dumps  # indent/separators capped
    shims["re"] = new_module("re", bounded_re_attrs())  # the `regex` engine, time-bounded
    shims["math"] = new_module(
        "math",
        {
            **public_attrs(math),
            "factorial": _factorial,
            "comb": _comb_checked(math.comb),
            "perm": _comb_checked(math.perm),
            "prod": _prod,
            "lcm": _lcm,
        },
    )
    shims["functools"] = new_module(
        "functools",
        {
            **public_attrs(functools, _DENIED["functools"]),
            "total_ordering": _total_ordering,
            "update_wrapper": _update_wrapper,
            "wraps": _wraps,
        },
    )
    shims["dataclasses"] = new_module(
        "dataclasses",
        {**public_attrs(dataclasses, _DENIED["dataclasses"]), "dataclass": _dataclass},
    )
    shims["collections"] = new_module(
        "collections", {**public_attrs(collections), "abc": shims["collections.abc"]}
    )
    return shims


SHARED_MODULES: dict[str, types.ModuleType] = _build_shared()
_PER_TASK_NAMES: dict[str, frozenset[str]] = {
    "asyncio": ASYNCIO_NAMES,
    "time": TIME_NAMES,
    "random": RANDOM_NAMES,
    "PIL": frozenset({"Image"}),
    "PIL.Image": PIL_IMAGE_NAMES,
}


def exported_names(module: str) -> frozenset[str] | None:
    """What `from <module> import ...` may name; None where the task supplies the module."""
    if module in SHARED_MODULES:
        return frozenset(n for n in vars(SHARED_MODULES[module]) if not n.startswith("_"))
    if module in _PER_TASK_NAMES:
        return _PER_TASK_NAMES[module]
    if module == "itertools":
        return frozenset(n for n in dir(itertools) if not n.startswith("_"))
    return None
