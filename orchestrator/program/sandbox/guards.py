"""Runtime guards of one task: wall-clock deadline, recursion depth, memory, output size.

The AST transform (transform.py) makes every plain function call `TaskGuard.enter`
and `leave` (the call depth), every loop body, coroutine and generator call `tick`, and
wraps comprehension iterables in `iterate`, so even `while True: pass` or a tight
comprehension takes guard steps; every CHECK_EVERY_STEPS steps the deadline is
checked. A guard that fired stays fired ("sticky"): a program that catches the error
with `except Exception` is stopped again at its next step, and the task fails with the
first error whatever the program returns.

Memory is measured as growth of the process RSS since the task started (/proc/self/statm,
psutil where there is no /proc), so
it is a coarse per-task bound: concurrent tasks share one process. A deployment should
also cap the whole orchestrator process (container memory limit or RLIMIT_AS), because
a single C-level call (a catastrophic regex, `sum` over lists, `str(big_nested_list)`)
runs between two guard steps and cannot be interrupted in-process; sizes.py
refuses the common single-call memory bombs up front.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from dicec.errors import DicecError, ProgramResourceError, ProgramTimeoutError

CHECK_EVERY_STEPS = 16  # deadline and memory are looked at every this many steps
MEMORY_CHECK_INTERVAL_S = 0.005  # the RSS read (~30 us) at most this often
MAX_INT_BITS = 1 << 20  # ~315,000 decimal digits: pow/shift/mul results beyond are refused
LARGE_RESULT_BYTES = 16 * 1024 * 1024  # results this big check the memory budget first
POINTER_BYTES = 8
MIB = 1024 * 1024


STATM_PATH = "/proc/self/statm"  # "size resident shared ...", in pages
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
STATM_READ_BYTES = 256
STATM_SIZE, STATM_RESIDENT = 0, 1  # its fields: mapped pages, resident pages


_statm_fd: int | None = None  # a jailed child's own statm, opened before Landlock


def keep_statm_open() -> None:
    """Open this process's statm now and read it through that descriptor from then on
    (a jailed child calls it before Landlock closes /proc to it)."""
    global _statm_fd
    _statm_fd = os.open(STATM_PATH, os.O_RDONLY | os.O_CLOEXEC)


def statm_bytes(field: int) -> int:
    """One field of /proc/self/statm (0 mapped size, 1 resident), in bytes; through the
    descriptor kept open when there is one. OSError without /proc."""
    if _statm_fd is not None:
        return int(os.pread(_statm_fd, STATM_READ_BYTES, 0).split()[field]) * PAGE_BYTES
    fd = os.open(STATM_PATH, os.O_RDONLY)  # not open(): no io objects in a jailed child
    try:
        return int(os.read(fd, STATM_READ_BYTES).split()[field]) * PAGE_BYTES
    finally:
        os.close(fd)


def process_rss() -> int:
    """Resident memory of this process in bytes. One read of /proc/self/statm: a jailed
    child measures itself at every task start, and psutil's Process costs it ~0.5 ms."""
    try:
        return statm_bytes(STATM_RESIDENT)
    except OSError:
        return _psutil_rss()  # no /proc (macOS: the in-process runner)


def _psutil_rss() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


class TaskGuard:
    """Budgets of one task run; every program-visible helper of the task is bound to one."""

    def __init__(self, *, wall_s: float, memory_mb: int, max_recursion: int, filename: str) -> None:
        self.wall_s = wall_s
        self.memory_bytes = memory_mb * MIB
        self.max_recursion = max_recursion
        self.filename = filename
        self.countdown = CHECK_EVERY_STEPS
        self.depth = 0
        self.tripped: DicecError | None = None
        self.finished = False
        self.rss_start = 0  # measured by start(), which every run calls before the program
        self._start_clock()

    def start(self) -> None:
        """The task's clock and memory baseline begin now (PreparedRun.start: a jail's
        zygote builds the guard before the task is known, and the in-process runner
        starts it right after building it; /proc is read once either way)."""
        self._start_clock()
        self.rss_start = process_rss()

    def _start_clock(self) -> None:
        now = time.monotonic()
        self.deadline = now + self.wall_s
        self.last_memory_check = now
        self.loop_thread = threading.get_ident()

    # -- steps ------------------------------------------------------------------------------
    def tick(self) -> None:
        """One program step (a loop iteration, a call): cheap; every few steps, a check."""
        self.countdown -= 1
        if self.countdown < 0:
            self.check()

    def check(self) -> None:
        """Deadline every time, memory when MEMORY_CHECK_INTERVAL_S has passed."""
        self.countdown = CHECK_EVERY_STEPS
        if self.tripped is not None or self.finished:
            self.countdown = 0  # sticky: the next step raises again
            self._raise_again()
        now = time.monotonic()
        if now > self.deadline:
            self.trip(
                ProgramTimeoutError(f"program ran past its wall-clock limit of {self.wall_s:g} s")
            )
        if now - self.last_memory_check >= MEMORY_CHECK_INTERVAL_S:
            self.last_memory_check = now
            self.check_memory(0)

    def enter(self) -> None:
        """A plain program function starts (`leave` runs in its `finally`)."""
        self.depth += 1
        if self.depth > self.max_recursion:
            self.trip(
                ProgramResourceError(
                    f"program recursion went deeper than {self.max_recursion} calls"
                )
            )
        self.countdown -= 1
        if self.countdown < 0:
            self.check()

    def leave(self) -> None:
        self.depth -= 1

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """A comprehension's iterable, one step per item."""
        for item in iterable:
            self.countdown -= 1
            if self.countdown < 0:
                self.check()
            yield item

    def check_memory(self, extra_bytes: int) -> None:
        grown = process_rss() - self.rss_start
        if grown + extra_bytes > self.memory_bytes:
            what = (
                f"would grow by {(grown + extra_bytes) // MIB} MB"
                if extra_bytes
                else (f"grew by {grown // MIB} MB")
            )
            self.trip(
                ProgramResourceError(
                    f"program used more than its memory limit of {self.memory_bytes // MIB} MB "
                    f"(process memory {what} since the task started)"
                )
            )

    # -- outcome ----------------------------------------------------------------------------
    def trip(self, error: DicecError) -> NoReturn:
        """Record the task's first budget error (with the program line) and raise it."""
        if self.tripped is None:
            line = self.program_line()
            if line is not None:
                error.args = (f"{error} (line {line})",)
            self.tripped = error
        self.countdown = 0
        raise error

    def finish(self) -> None:
        """The task is over: its code still running (stray tasks, threads) stops at once."""
        self.finished = True
        self.countdown = 0

    def _raise_again(self) -> NoReturn:
        first = self.tripped
        if first is None:
            raise ProgramTimeoutError("the task this code belongs to has already finished")
        raise type(first)(*first.args)

    def program_line(self) -> int | None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.loop_thread

    # -- checked arithmetic (the transform routes `*`, `**`, `<<` and `x op= v` here) -------
    def mul(self, left: Any, right: Any) -> Any:
        if type(left) is not float and type(right) is not float:  # floats are never huge
            self._check_mul(left, right, "a * b")
        return left * right

    def pow(self, base: Any, exponent: Any, modulus: Any = None) -> Any:
        if modulus is not None:
            return pow(base, exponent, modulus)  # modular: the result stays small
        self._check_pow(base, exponent, "a ** b")
        return base**exponent

    def lshift(self, left: Any, right: Any) -> Any:
        self._check_lshift(left, right, "a << b")
        return left << right

    def aug(self, op: str, current: Any, value: Any) -> Any:
        """`x *= v` and friends: check what `x op v` would make, then let Python do it."""
        checks = {"mul": (self._check_mul, "a *= b"), "pow": (self._check_pow, "a **= b"),
                  "lshift": (self._check_lshift, "a <<= b")}  # fmt: skip
        check, what = checks[op]
        check(current, value, what)
        return value

    def _check_mul(self, left: Any, right: Any, what: str) -> None:
        if isinstance(left, int) and isinstance(right, int):
            self._check_bits(left.bit_length() + right.bit_length(), what)
        elif isinstance(right, int) and _is_sequence(left):
            self._check_repeat(left, right)
        elif isinstance(left, int) and _is_sequence(right):
            self._check_repeat(right, left)

    def _check_pow(self, base: Any, exponent: Any, what: str) -> None:
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
            self._check_bits((abs(base).bit_length() - 1) * exponent, what)

    def _check_lshift(self, left: Any, right: Any, what: str) -> None:
        if isinstance(left, int) and isinstance(right, int) and left and right > 0:
            self._check_bits(left.bit_length() + right, what)

    def check_chars(self, chars: int, what: str) -> None:
        """A text result of about `chars` characters is about to be made in one C call."""
        if chars > self.memory_bytes:
            self.trip(
                ProgramResourceError(
                    f"{what} would make a string of about {chars} characters, over the memory "
                    f"limit of {self.memory_bytes // MIB} MB"
                )
            )
        if chars > LARGE_RESULT_BYTES:
            self.check_memory(chars)

    def check_items(self, items: Any, what: str) -> None:
        """A container of `items` references is about to be made in one C call."""
        if isinstance(items, int) and items * POINTER_BYTES > self.memory_bytes:
            self.trip(
                ProgramResourceError(
                    f"{what} would make {items} items, over the memory limit of "
                    f"{self.memory_bytes // MIB} MB"
                )
            )

    def _check_bits(self, bits: int, what: str) -> None:
        if bits > MAX_INT_BITS:
            self.trip(
                ProgramResourceError(
                    f"{what} would make an integer of about {bits} bits, over the limit of "
                    f"{MAX_INT_BITS} bits"
                )
            )

    def _check_repeat(self, seq: Any, count: int) -> None:
        items = len(seq) * max(count, 0)
        item_bytes = 1 if isinstance(seq, str | bytes | bytearray) else POINTER_BYTES
        size = items * item_bytes
        if size > self.memory_bytes:
            self.trip(
                ProgramResourceError(
                    f"sequence repetition would make {items} items (about {size // MIB} MB), "
                    f"over the memory limit of {self.memory_bytes // MIB} MB"
                )
            )
        if size > LARGE_RESULT_BYTES:
            self.check_memory(size)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | bytearray | list | tuple)


class OutputCollector:
    """The task's own `print`: lines are collected, never written to the process's stdout."""

    def __init__(self, guard: TaskGuard, max_chars: int) -> None:
        self._guard = guard
        self._max_chars = max_chars
        self._parts: list[str] = []
        self._chars = 0

    def print(
        self,
        *args: Any,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        from dicec.errors import SandboxViolation

        if file is not None:
            self._guard.trip(
                SandboxViolation("print(file=...) is not allowed: output is collected")
            )
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("print: sep and end must be strings")
        text = sep.join(str(arg) for arg in args) + end
        if self._chars + len(text) > self._max_chars:
            self._guard.trip(
                ProgramResourceError(
                    f"program printed more than its output limit of {self._max_chars} characters"
                )
            )
        self._parts.append(text)
        self._chars += len(text)

    def lines(self) -> list[str]:
        return "".join(self._parts).splitlines()
