"""Children that burn CPU yield it: the zygote lowers their priority, not every child's.

A child used to lower its own priority (niceness 10) as it started, so that a program
spinning in a loop could not starve the zygote and the orchestrator, which serve every
task. That cost every task: at niceness 10 a child is preempted whenever a process of
normal priority wakes, and each short burst it runs (its set-up, each reply it answers)
is cut and resumed with cold caches. Measured side by side (bench/jail_cpu.py --tasks
600, three pairs): 4.28-4.35 CPU-ms per task at niceness 10 against 3.93-3.98 at 0.

So a child starts at the zygote's priority, and the zygote watches the CPU time of the
children that have lived longer than BUSY_CPU_S (none younger can have used that much on
its one thread; a child of n tasks, n times that): one that has used more is set to
YIELD_NICENESS, for the rest of its life. A program cannot undo it: without CAP_SYS_NICE
a process may lower its own priority, never raise it. The watch reads /proc/<pid>/stat
(the CPU clock ticks), which the kernel lets any process read, every WATCH_S while
children are alive; where the zygote cannot read /proc, every child starts at
YIELD_NICENESS as before (said in a line).
"""

from __future__ import annotations

import contextlib
import os
import time

BUSY_CPU_S = 0.05  # a claims task's child uses ~4 ms; a spinning one reaches this at once
WATCH_S = 0.1
YIELD_NICENESS = 10
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_UTIME_FIELD = 11  # utime, then stime: fields 14 and 15 of proc(5), counted after "(comm)"


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) process `pid` has used; None if it is gone."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 1024)
    except OSError:
        return None
    finally:
        os.close(fd)
    fields = data[data.rfind(b")") + 2 :].split()  # comm may hold spaces and parentheses
    return (int(fields[_UTIME_FIELD]) + int(fields[_UTIME_FIELD + 1])) / _TICKS_PER_S


class CpuYield:
    """The zygote's watch over its children's CPU time."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled  # False where /proc cannot be read: children start lower
        # pid -> (monotonic time of its fork, CPU s it may use: BUSY_CPU_S a task), until
        # it yields
        self._watched: dict[int, tuple[float, float]] = {}
        self._next_watch = 0.0

    def spawned(self, pid: int, tasks: int = 1) -> None:
        if self._enabled:
            self._watched[pid] = (time.monotonic(), BUSY_CPU_S * tasks)

    def reaped(self, pid: int) -> None:
        self._watched.pop(pid, None)

    def timeout_s(self) -> float | None:
        """How long the zygote's poll may wait: until the next watch, or (None) for ever."""
        if not self._watched:
            return None
        return max(0.0, self._next_watch - time.monotonic()) + 0.001

    def watch(self) -> None:
        """Every WATCH_S: lower the priority of each child that has used BUSY_CPU_S.
        Only the zygote calls this, and only for children it has not reaped, so a pid
        here is never another process's."""
        now = time.monotonic()
        if now < self._next_watch or not self._watched:
            return
        self._next_watch = now + WATCH_S
        for pid, (born, budget) in list(self._watched.items()):
            if now - born < budget:
                continue  # too young to have used its budget
            used = cpu_s(pid)
            if used is not None and used < budget:
                continue
            del self._watched[pid]  # it yields now, or it is gone: never read again
            if used is not None:
                with contextlib.suppress(OSError):  # exited meanwhile (a zombie not reaped)
                    os.setpriority(os.PRIO_PROCESS, pid, YIELD_NICENESS)
