"""The helpers the AST transform calls, bound to one task, and the task's fresh namespace."""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import types
from typing import Any

from dicec.errors import ProgramError, SandboxViolation
from orchestrator.program.dialect import ASYNC_SUFFIX, MODEL_METHODS
from orchestrator.program.sandbox import transform as names
from orchestrator.program.sandbox.guards import OutputCollector, TaskGuard
from orchestrator.program.sandbox.modules import (
    PROGRAM_MODULE,
    SANDBOX_MODULE_PREFIX,
    is_program_owned,
)
from orchestrator.program.sandbox.runtime import (
    TaskImage,
    check_pixels,
    make_importer,
    safe_builtins,
    stand_ins,
)
from orchestrator.program.sandbox.sizes import (
    IMAGE_METHODS,
    format_spec_chars,
    percent_format_chars,
    requested_size,
    text_result_chars,
)


class TaskHelpers:
    """Implementations of the transform's helper names for one task."""

    def __init__(self, guard: TaskGuard, owned_types: tuple[type, ...]) -> None:
        self.guard = guard
        self.owned_types = owned_types  # classes handed in by the runtime (ImagePatch)

    def writable(self, obj: Any, attr: str) -> Any:
        """`obj.attr = v` only on the program's own classes and objects (and runtime
        objects such as ImagePatch instances): never on shared classes or modules."""
        if isinstance(obj, type):
            allowed = is_program_owned(obj)
        else:
            allowed = (
                is_program_owned(type(obj))
                or isinstance(obj, self.owned_types)
                or (inspect.isfunction(obj) and is_program_owned(obj))
            )
        if not allowed:
            self.guard.trip(
                SandboxViolation(
                    f"setting attribute {attr!r} of {_describe(obj)} is not allowed: a program may "
                    f"change only the classes and objects it defines"
                )
            )
        return obj

    async def model_call(
        self, obj: Any, name: str, awaited: bool, *args: Any, **kwargs: Any
    ) -> Any:
        """`patch.find(x)` inside `async def`: await `patch.find_async(x)` when it exists."""
        twin = getattr(obj, name + ASYNC_SUFFIX, None)
        if callable(twin):
            return await twin(*args, **kwargs)
        result = getattr(obj, name)(*args, **kwargs)
        if awaited and inspect.isawaitable(result):
            return await result
        return result

    def model_call_sync(self, obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        """`patch.find(x)` outside `async def`: fine in a worker thread, an error on the loop."""
        if self.guard.on_loop_thread() and callable(getattr(obj, name + ASYNC_SUFFIX, None)):
            self.guard.trip(
                ProgramError(
                    f"{type(obj).__name__}.{name}() was called synchronously on the event loop (in "
                    f"a lambda or plain def called from async code): call it directly in the "
                    f"async function, where the sandbox awaits it"
                )
            )
        return getattr(obj, name)(*args, **kwargs)

    def method(self, obj: Any, name: str) -> Any:
        """`obj.name` taken without calling it: a callable with the same checks as a call."""
        value = getattr(obj, name)  # an AttributeError here, as without the sandbox
        if not callable(value):  # a data attribute that happens to share the name
            return value
        if name in MODEL_METHODS:
            return functools.partial(self.model_call_sync, obj, name)
        return functools.partial(self.checked_call, obj, name)

    def checked_call(self, obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        """Calls that could allocate gigabytes in one C step (`img.crop(box)`,
        `s.ljust(n)`, `sep.join(items)`): refused when the result would be over budget."""
        if isinstance(obj, type) and args:  # `Image.Image.crop(img, box)`: the instance first
            receiver, checked_args = args[0], args[1:]
        else:
            receiver, checked_args = obj, args
        if name in IMAGE_METHODS:
            size = requested_size(name, checked_args, kwargs)
            if size is not None:
                check_pixels(self.guard, f"{name}()", size)
        else:
            chars = text_result_chars(receiver, name, checked_args, kwargs)
            self.guard.check_chars(chars, f"{type(receiver).__name__}.{name}()")
        return getattr(obj, name)(*args, **kwargs)

    def mod(self, left: Any, right: Any) -> Any:
        """`template % values`: widths and precisions are checked first."""
        if not isinstance(left, str | bytes):  # the common case: numbers
            return left % right
        self.guard.check_chars(percent_format_chars(left, right), "% formatting")
        return left % right

    def format_value(self, value: Any, conversion: str, spec: str) -> str:
        """An f-string field with a format spec, converted (!r, !s, !a) and checked."""
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        return self.format(value, spec)

    def format(self, value: Any, spec: str = "") -> str:
        """The builtin `format`, with the spec's width checked first."""
        self.guard.check_chars(format_spec_chars(spec), "format()")
        return format(value, spec)


def _describe(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__.removeprefix(SANDBOX_MODULE_PREFIX)}"
    if isinstance(obj, type):
        return f"class {obj.__qualname__}"
    return f"a {type(obj).__qualname__} object"


def build_namespace(
    guard: TaskGuard,
    output: OutputCollector,
    *,
    modules: dict[str, Any],
    task_image: TaskImage,
    extra_globals: dict[str, Any],
    created: set[asyncio.Task[Any]],
    rng: random.Random,
) -> dict[str, Any]:
    """A fresh global namespace for one run of a program's code object."""
    owned = tuple(v for v in extra_globals.values() if isinstance(v, type))
    helpers = TaskHelpers(guard, owned)
    importer = make_importer(modules, stand_ins(guard, task_image, created, rng))
    namespace: dict[str, Any] = {
        "__builtins__": safe_builtins(guard, output, importer),
        "__name__": PROGRAM_MODULE,
        names.ENTER: guard.enter,
        names.LEAVE: guard.leave,
        names.TICK: guard.tick,
        names.ITERATE: guard.iterate,
        names.MUL: guard.mul,
        names.POW: guard.pow,
        names.LSHIFT: guard.lshift,
        names.AUG: guard.aug,
        names.WRITABLE: helpers.writable,
        names.MODEL_CALL_ASYNC: helpers.model_call,
        names.MODEL_CALL_SYNC: helpers.model_call_sync,
        names.CHECKED_CALL: helpers.checked_call,
        names.METHOD: helpers.method,
        names.MOD: helpers.mod,
        names.FORMAT_VALUE: helpers.format_value,
    }
    namespace["__builtins__"]["format"] = helpers.format
    for key in extra_globals:
        if key.startswith("_"):
            raise ProgramError(f"extra global {key!r}: names starting with '_' are reserved")
    namespace.update(extra_globals)
    return namespace
