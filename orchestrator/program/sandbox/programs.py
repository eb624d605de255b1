"""Runs untrusted, LLM-generated programs in-process, many at once on one asyncio loop.

A program is checked and compiled once (`compile_program`), then run per task
(`run_program`) in a fresh namespace with allow-listed builtins and stand-in modules.
The layers, each in its own module:

- rules.py:     static rules on the AST (imports, dunders, frames, str.format, ...)
- transform.py: drops the program's own `asyncio.run(...)` line, adds guard calls,
                awaits ImagePatch model methods inside `async def`
- guards.py:    deadline, recursion, memory and output budgets of one task
- modules.py / runtime.py / helpers.py: what a task's program can reach

In-process isolation of Python is best effort. A deployment should also run the
orchestrator as an unprivileged user in a container with a read-only file system, no
credentials and no network except Redis, and cap its memory (cgroup limit or
RLIMIT_AS around 4 GiB per orchestrator process): a single C call between two guard
steps cannot be interrupted from inside the process.
"""

from __future__ import annotations

import ast
import asyncio
import random
import types
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from dicec import program_defaults
from dicec.errors import (
    ProgramError,
    ProgramResourceError,
    ProgramTimeoutError,
)
from orchestrator.program.sandbox.guards import OutputCollector, TaskGuard
from orchestrator.program.sandbox.helpers import build_namespace
from orchestrator.program.sandbox.modules import is_program_owned
from orchestrator.program.sandbox.results import to_json_value
from orchestrator.program.sandbox.rules import (
    ALLOWED_IMPORTS,
    ENTRY_POINTS,
    check_tree,
    find_entry,
    parse,
)
from orchestrator.program.sandbox.runtime import ImageCopier, TaskImage
from orchestrator.program.sandbox.transform import instrument, strip_top_level

if TYPE_CHECKING:  # the runtime (and the jail's zygote) need not import pydantic-settings
    from dicec.settings import Settings

__all__ = ["ALLOWED_IMPORTS", "ENTRY_POINTS", "CompiledProgram", "Limits", "PreparedRun",
           "ProgramRun", "check_source", "compile_program", "describe_error",
           "run_program"]  # fmt: skip

CANCEL_GRACE_S = 1.0  # after the deadline, how long a cancelled program may take to stop


@dataclass(frozen=True)
class Limits:
    """What one task's program may use. The defaults are the Settings defaults."""

    wall_s: float = program_defaults.TASK_TIMEOUT_S
    memory_mb: int = program_defaults.PROGRAM_MEMORY_MB
    max_output_chars: int = program_defaults.PROGRAM_MAX_OUTPUT_CHARS
    max_recursion: int = 200
    cpu_s: float | None = None  # jailed runs: CPU seconds (RLIMIT_CPU); None: half the wall

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits a deployment configured (DICEC_TASK_TIMEOUT_S, DICEC_PROGRAM_*)."""
        return cls(
            wall_s=settings.task_timeout_s,
            memory_mb=settings.program_memory_mb,
            max_output_chars=settings.program_max_output_chars,
            cpu_s=settings.program_cpu_s,
        )


@dataclass
class ProgramRun:
    value: Any  # JSON-able return value
    printed: list[str]


@dataclass
class CompiledProgram:
    source: str
    filename: str
    entry: str
    is_async: bool
    code: types.CodeType
    limits: Limits = field(default_factory=Limits)
    dropped_lines: list[int] = field(default_factory=list)  # top-level lines that never run

    def prepare(
        self,
        *,
        modules: dict[str, Any],
        extra_globals: dict[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> PreparedRun:
        """A fresh namespace for one task, with its guard, output and image slot bound to it;
        PreparedRun.start gives it its task."""
        limits = limits or self.limits
        guard = TaskGuard(
            wall_s=limits.wall_s,
            memory_mb=limits.memory_mb,
            max_recursion=limits.max_recursion,
            filename=self.filename,
        )
        output = OutputCollector(guard, limits.max_output_chars)
        created: set[asyncio.Task[Any]] = set()
        task_image = TaskImage()
        rng = random.Random()
        namespace = build_namespace(
            guard,
            output,
            modules=modules,
            task_image=task_image,
            extra_globals=extra_globals or {},
            created=created,
            rng=rng,
        )
        return PreparedRun(self, limits, namespace, guard, output, created, task_image, rng)


@dataclass
class PreparedRun:
    """One task's run, built before its task is known and started when it is.

    In process, a run is prepared and started at once. A jail's zygote prepares one per
    program and never runs it; each forked child starts its own copy-on-write copy, so
    every child's copy is pristine and no child rebuilds the builtins, stand-ins and
    helpers: each object a fresh child builds or first touches is a page it copies, and
    building them was ~400 page copies, ~1.2 ms of a child's CPU (bench/jail_cpu.py)."""

    program: CompiledProgram
    limits: Limits
    namespace: dict[str, Any]
    guard: TaskGuard
    output: OutputCollector
    created: set[asyncio.Task[Any]]
    task_image: TaskImage
    rng: random.Random
    started: bool = False

    def start(
        self,
        image_path: str,
        image: Image.Image | None = None,
        *,
        fresh: ImageCopier | None = None,
    ) -> None:
        """The task begins: its image (or `fresh`, what makes a copy of it: a jailed child
        makes each copy straight from the pixels it inherited), its clock and memory
        baseline, its own random seed (from the OS). Once: a run's namespace is the
        program's to change."""
        if self.started:
            raise RuntimeError("a prepared run starts once")
        fresh = fresh or (image.copy if image is not None else None)
        if fresh is None:
            raise ValueError("a task needs its image")
        self.started = True
        self.task_image.path, self.task_image.fresh = image_path, fresh
        self.guard.start()
        self.rng.seed()

    async def run(self, executor: Executor | None = None) -> ProgramRun:
        """Run the entry point on the task's image. Every error propagates, carrying what
        the program printed (`exc.printed`) and, for the program's own exceptions, its
        line (`exc.program_line`)."""
        if not self.started:
            raise RuntimeError("a prepared run needs its task: start() it first")
        program, guard = self.program, self.guard
        path, fresh = self.task_image.path, self.task_image.fresh
        assert fresh is not None  # start() set it
        try:
            value = await _run_entry(
                program, self.namespace, guard, self.limits, path, fresh, executor
            )
            if guard.tripped is not None:  # the program caught a guard error and went on
                raise guard.tripped
            result = to_json_value(value)
        # Every way out of the program is re-raised: cancellation as is, the rest as its
        # task error.
        except BaseException as exc:  # noqa: BLE001 - re-raised, translated by _task_error
            raise _task_error(exc, program, guard, self.output) from None
        finally:
            guard.finish()
            for task in self.created:
                task.cancel()
        return ProgramRun(value=result, printed=self.output.lines())


def check_source(source: str, filename: str = "<program>") -> ast.Module:
    """Parse and check a program; raises ProgramError or SandboxViolation (with the line)."""
    tree = parse(source, filename)
    find_entry(tree, filename)
    check_tree(tree, filename)
    return tree


def compile_program(
    source: str,
    filename: str = "<program>",
    limits: Limits = Limits(),  # frozen: shared is safe
) -> CompiledProgram:
    """Check, transform and compile once; the code object serves every task."""
    tree = check_source(source, filename)
    entry = find_entry(tree, filename)
    stripped, dropped = strip_top_level(tree)
    code = compile(instrument(stripped), filename, "exec", dont_inherit=True)
    return CompiledProgram(
        source=source,
        filename=filename,
        entry=entry.name,
        is_async=isinstance(entry, ast.AsyncFunctionDef),
        code=code,
        limits=limits,
        dropped_lines=dropped,
    )


async def run_program(
    program: CompiledProgram,
    *,
    modules: dict[str, Any],
    image_path: str,
    image: Image.Image,
    extra_globals: dict[str, Any] | None = None,
    limits: Limits | None = None,
    executor: Executor | None = None,
) -> ProgramRun:
    """Run a program's entry point on one image (PreparedRun.run says what it raises)."""
    prepared = program.prepare(modules=modules, extra_globals=extra_globals, limits=limits)
    prepared.start(image_path, image)
    return await prepared.run(executor)


async def _run_entry(
    program: CompiledProgram,
    namespace: dict[str, Any],
    guard: TaskGuard,
    limits: Limits,
    image_path: str,
    fresh: ImageCopier,
    executor: Executor | None,
) -> Any:
    exec(program.code, namespace)  # checked, instrumented, restricted builtins
    entry = namespace.get(program.entry)
    if not callable(entry):
        raise ProgramError(
            f"{program.filename}: entry point {program.entry} was redefined "
            f"as something not callable"
        )
    arg: Any = image_path if program.entry == "execute_query" else fresh()
    loop = asyncio.get_running_loop()
    if program.is_async:
        future: asyncio.Future[Any] = asyncio.ensure_future(entry(arg))
    else:
        future = loop.run_in_executor(executor, entry, arg)
    return await _within_deadline(future, guard, limits.wall_s)


async def _within_deadline(future: asyncio.Future[Any], guard: TaskGuard, wall_s: float) -> Any:
    """Wait for the entry point; past the deadline cancel it (a program may swallow one
    cancellation: its next guard step stops it) and fail with ProgramTimeoutError."""
    try:
        done, _ = await asyncio.wait({future}, timeout=max(guard.remaining_s(), 0.0))
        if not done:
            guard.finish()
            future.cancel()
            await asyncio.wait({future}, timeout=CANCEL_GRACE_S)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" noise
            raise ProgramTimeoutError(f"program ran past its wall-clock limit of {wall_s:g} s")
        return future.result()
    except asyncio.CancelledError:
        future.cancel()
        raise


def _task_error(
    exc: BaseException, program: CompiledProgram, guard: TaskGuard, output: OutputCollector
) -> BaseException:
    """The error a task fails with: the guard's first error wins over whatever the program
    did with it; MemoryError, RecursionError and SystemExit become DicecErrors."""
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return exc
    error: BaseException = exc
    if guard.tripped is not None:
        error = guard.tripped
    elif isinstance(exc, MemoryError):
        error = ProgramResourceError("program ran out of memory (MemoryError)")
    elif isinstance(exc, RecursionError):
        error = ProgramResourceError(f"program recursion went too deep: {exc}")
    elif not isinstance(exc, Exception):  # SystemExit, GeneratorExit
        error = ProgramError(f"program raised {type(exc).__name__}")
    else:
        error = _inert(exc)
    line = program_line(exc, program.filename)
    if line is not None and getattr(error, "program_line", None) is None:
        error.program_line = line  # type: ignore[attr-defined]
        if f"line {line}" not in str(error):
            error.add_note(f"(program line {line})")
    error.printed = output.lines()  # type: ignore[attr-defined]
    return error


def _inert(exc: BaseException) -> BaseException:
    """An error whose str() runs no program code: the caller formats it after the task's
    guard has finished (a program's `__str__` or `__repr__` could loop or raise there)."""
    if is_program_owned(type(exc)):
        shown = ", ".join(repr(arg) for arg in _plain_args(exc.args))
        return ProgramError(f"program raised {type(exc).__name__}: {shown}")
    if not isinstance(exc, BaseExceptionGroup) and not all(_is_plain(a) for a in exc.args):
        exc.args = _plain_args(exc.args)
    return exc


def _is_plain(value: Any) -> bool:
    if type(value) is tuple:
        return all(_is_plain(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


def _plain_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_plain(arg) for arg in args)


def _plain(value: Any) -> Any:
    if type(value) is tuple:
        return _plain_args(value)
    return value if _is_plain(value) else f"<{type(value).__name__} object>"


def program_line(exc: BaseException, filename: str) -> int | None:
    """The last line of the program in an exception's traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def describe_error(exc: BaseException) -> str:
    """`Type: message (program line N)`: how a task's error should be shown."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    line = getattr(exc, "program_line", None)
    if line is not None and f"line {line}" not in text:
        text += f" (program line {line})"
    return text
