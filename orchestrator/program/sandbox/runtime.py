"""What one task's program sees at run time: builtins, imports, helpers, stand-in modules.

Everything here is built per task and bound to that task's TaskGuard, so `print`,
`random.seed`, created asyncio tasks and the deadline never leak between tasks. (A jail's
zygote builds it before the task is known, once per program, and each forked child gets
its own copy: sandbox.programs.PreparedRun.)
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import random
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from dicec.errors import ProgramError, ProgramResourceError, SandboxViolation
from orchestrator.program.sandbox.guards import OutputCollector, TaskGuard
from orchestrator.program.sandbox.modules import (
    ASYNCIO_NAMES,
    ITERTOOLS_GUARDED,
    PIL_IMAGE_CONSTANTS,
    RANDOM_METHODS,
    SHARED_MODULES,
    TIME_NAMES,
    is_metaclass,
    new_module,
)
from worker_models.images import MAX_IMAGE_PIXELS

RANGE_FAST_ITEMS = 1_000_000  # larger ranges iterate in Python, one guard step per item

SAFE_BUILTINS = (
    "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "callable", "chr",
    "classmethod", "complex", "dict", "divmod", "enumerate", "filter", "float", "format",
    "frozenset", "hash", "hex", "int", "isinstance", "issubclass", "len", "list", "map", "max",
    "min", "next", "object", "oct", "ord", "property", "repr", "reversed", "round", "set",
    "slice", "sorted", "staticmethod", "str", "sum", "super", "tuple", "zip", "NotImplemented",
    "Ellipsis", "__build_class__",
    "BaseException", "Exception", "ArithmeticError", "AssertionError", "AttributeError",
    "EOFError", "FloatingPointError", "IndexError", "KeyError", "LookupError", "MemoryError",
    "NameError", "NotImplementedError", "OverflowError", "RecursionError", "RuntimeError",
    "StopIteration", "StopAsyncIteration", "TimeoutError", "TypeError", "UnboundLocalError",
    "UnicodeError", "ValueError", "ZeroDivisionError", "ExceptionGroup", "BaseExceptionGroup",
    "Warning", "UserWarning",
)  # fmt: skip


class GuardedRange(Sequence):
    """A range too large to hand to C code: iterating it takes one guard step per item."""

    def __init__(self, real: range, guard: TaskGuard) -> None:
        self._real = real
        self._guard = guard
        self.start, self.stop, self.step = real.start, real.stop, real.step

    def __iter__(self) -> Iterator[int]:
        return self._guard.iterate(self._real)

    def __reversed__(self) -> Iterator[int]:
        return self._guard.iterate(reversed(self._real))

    def __len__(self) -> int:
        return len(self._real)

    def __getitem__(self, index: Any) -> Any:
        item = self._real[index]
        return wrap_range(item, self._guard) if isinstance(item, range) else item

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, int):  # arithmetic, O(1)
            return value in self._real
        return any(item == value for item in self)  # other types: a scan, one step per item

    def __eq__(self, other: Any) -> bool:
        return self._real == (other._real if isinstance(other, GuardedRange) else other)

    def __hash__(self) -> int:
        return hash(self._real)

    def __repr__(self) -> str:
        return repr(self._real)

    def index(self, value: Any) -> int:
        if isinstance(value, int) or value not in self:
            return self._real.index(value)
        return next(i for i, item in enumerate(self) if item == value)

    def count(self, value: Any) -> int:
        return self._real.count(value) if isinstance(value, int) else int(value in self)


def wrap_range(real: range, guard: TaskGuard) -> range | GuardedRange:
    try:
        small = len(real) <= RANGE_FAST_ITEMS
    except OverflowError:  # more items than fit in a C size
        small = False
    return real if small else GuardedRange(real, guard)


def safe_builtins(
    guard: TaskGuard, output: OutputCollector, importer: Callable[..., Any]
) -> dict[str, Any]:
    table = {name: getattr(builtins, name) for name in SAFE_BUILTINS}

    def safe_range(*args: int) -> range | GuardedRange:
        return wrap_range(range(*args), guard)

    def safe_iter(obj: Any, *sentinel: Any) -> Iterator[Any]:
        if sentinel:  # iter(callable, sentinel) can run forever inside C consumers
            return guard.iterate(iter(obj, *sentinel))
        return iter(obj)

    table.update(
        range=safe_range,
        iter=safe_iter,
        pow=guard.pow,
        print=output.print,
        __import__=importer,
        type=safe_type,
    )
    return table


def safe_type(*args: Any) -> type:
    """`type(x)` only: three arguments would build a class with any dunder methods, and
    the type of a class is its metaclass (a class factory again)."""
    if len(args) != 1:
        raise SandboxViolation(
            "type() with three arguments builds a class: not allowed (use a class statement)"
        )
    cls = type(args[0])
    if is_metaclass(cls):
        raise SandboxViolation("type() of a class (its metaclass) is not available in a program")
    return cls


def make_importer(
    task_modules: dict[str, Any], stand_ins: dict[str, types.ModuleType]
) -> Callable[..., Any]:
    def safe_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if level:
            raise SandboxViolation("relative imports are not allowed")
        if name in task_modules:
            return task_modules[name]
        if name not in stand_ins:
            raise SandboxViolation(f"import of {name!r} is not allowed")
        return stand_ins[name] if fromlist else stand_ins[name.split(".")[0]]

    return safe_import


# -- stand-ins with per-task state -----------------------------------------------------------
def asyncio_stand_in(guard: TaskGuard, created: set[asyncio.Task[Any]]) -> types.ModuleType:
    attrs = {name: getattr(asyncio, name) for name in ASYNCIO_NAMES if hasattr(asyncio, name)}

    async def sleep(delay: float, result: Any = None) -> Any:
        await asyncio.sleep(min(max(delay, 0), guard.remaining_s() + 0.01))
        guard.check()  # a sleep past the deadline stops here, not after further steps
        return result

    def create_task(coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        created.add(task)
        return task

    def ensure_future(obj: Any) -> asyncio.Future[Any]:
        future = asyncio.ensure_future(obj)
        if isinstance(future, asyncio.Task):
            created.add(future)
        return future

    def run(main: Any, **_: Any) -> None:
        if asyncio.iscoroutine(main):
            main.close()
        raise ProgramError(
            "asyncio.run() is not available in a program: the runtime awaits the entry point itself"
        )

    attrs.update(sleep=sleep, create_task=create_task, ensure_future=ensure_future, run=run)
    return new_module("asyncio", attrs)


def time_stand_in(guard: TaskGuard) -> types.ModuleType:
    attrs = {name: getattr(time, name) for name in TIME_NAMES}

    def sleep(seconds: float) -> None:
        if guard.on_loop_thread():
            guard.trip(
                ProgramError(
                    "time.sleep() would block every task on the event loop: "
                    "use `await asyncio.sleep(...)`"
                )
            )
        time.sleep(min(max(seconds, 0), guard.remaining_s() + 0.01))
        guard.check()

    attrs["sleep"] = sleep
    return new_module("time", attrs)


def random_stand_in(guard: TaskGuard, rng: random.Random) -> types.ModuleType:
    """`rng` is the task's own (random.seed() in one program does not touch another),
    seeded from the OS when the task starts."""
    attrs: dict[str, Any] = {name: getattr(rng, name) for name in RANDOM_METHODS}

    def choices(
        population: Any, weights: Any = None, *, cum_weights: Any = None, k: int = 1
    ) -> list[Any]:
        guard.check_items(k, "random.choices(k=...)")
        return rng.choices(population, weights, cum_weights=cum_weights, k=k)

    attrs.update(choices=choices, Random=random.Random)
    return new_module("random", attrs)


def itertools_stand_in(guard: TaskGuard) -> types.ModuleType:
    attrs = {n: getattr(itertools, n) for n in dir(itertools) if not n.startswith("_")}

    def guarded(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            return guard.iterate(fn(*args, **kwargs))

        wrapper.__name__ = fn.__name__
        return wrapper

    attrs.update({name: guarded(attrs[name]) for name in ITERTOOLS_GUARDED})
    product, tee = attrs["product"], itertools.tee

    def checked_product(*iterables: Any, repeat: int = 1) -> Iterator[Any]:
        # the pools (each iterable, `repeat` times) are copied in C before the first item
        guard.check_items(len(iterables) * repeat, "itertools.product(repeat=...)")
        return product(*iterables, repeat=repeat)

    def checked_tee(iterable: Any, n: int = 2) -> tuple[Iterator[Any], ...]:
        guard.check_items(n, "itertools.tee(n=...)")
        return tee(iterable, n)

    attrs.update(product=checked_product, tee=checked_tee)
    return new_module("itertools", attrs)


ImageCopier = Callable[[], Image.Image]  # a fresh copy of a task's image: all a program gets


@dataclass
class TaskImage:
    """The path a program knows its task's image by, and what makes a fresh copy of the
    image (a program only ever gets copies: it may draw on them). Set when the task
    starts: a jail's zygote builds a program's namespace before it knows the task."""

    path: str = ""
    fresh: ImageCopier | None = None


def pil_stand_ins(
    guard: TaskGuard, task_image: TaskImage
) -> tuple[types.ModuleType, types.ModuleType]:
    """`PIL` and `PIL.Image`: open() gives the task's image only; nothing reads or writes files."""

    def open_image(fp: Any, mode: str = "r", formats: Any = None) -> Image.Image:
        fresh = task_image.fresh
        if isinstance(fp, str) and fp == task_image.path and fresh is not None:
            return fresh()
        shown = repr(fp) if isinstance(fp, str) else type(fp).__name__
        guard.trip(
            SandboxViolation(
                f"file access denied: Image.open({shown}): a program may open only its task's image"
            )
        )

    def new(mode: str, size: Any, color: Any = 0) -> Image.Image:
        check_pixels(guard, "Image.new", size)
        return Image.new(mode, size, color)

    attrs: dict[str, Any] = {name: getattr(Image, name) for name in PIL_IMAGE_CONSTANTS}
    attrs.update(
        open=open_image,
        new=new,
        Image=Image.Image,
        merge=Image.merge,
        blend=Image.blend,
        composite=Image.composite,
    )
    image_module = new_module("PIL.Image", attrs)
    return new_module("PIL", {"Image": image_module}), image_module


def check_pixels(guard: TaskGuard, what: str, size: Any) -> None:
    try:
        width, height = (abs(int(v)) for v in size)
    except (TypeError, ValueError, OverflowError):
        return  # not a size: the call itself reports it
    if width * height > MAX_IMAGE_PIXELS:
        guard.trip(
            ProgramResourceError(
                f"{what} would make an image of {width} x {height} "
                f"pixels, over the limit of {MAX_IMAGE_PIXELS}"
            )
        )


def stand_ins(
    guard: TaskGuard,
    task_image: TaskImage,
    created: set[asyncio.Task[Any]],
    rng: random.Random,
) -> dict[str, types.ModuleType]:
    pil, pil_image = pil_stand_ins(guard, task_image)
    return {
        **SHARED_MODULES,
        "asyncio": asyncio_stand_in(guard, created),
        "time": time_stand_in(guard),
        "random": random_stand_in(guard, rng),
        "itertools": itertools_stand_in(guard),
        "PIL": pil,
        "PIL.Image": pil_image,
    }
