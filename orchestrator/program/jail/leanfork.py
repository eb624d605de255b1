"""fork(2) without CPython's after-fork hooks, for the zygote's children.

`os.fork` runs, in the child, the hooks that modules registered with os.register_at_fork:
threading rebuilds its registry of threads and locks, logging re-creates every handler's
lock, random reseeds its global generator. Each touches pages of the zygote's heap,
which the child then copies: about 200 page copies, 0.6 ms of CPU per child (of ~1.2 ms
for fork and exit), measured on this VM. Those hooks exist for a process that had other
threads at the fork, whose locks may be held; the zygote has only its main thread (and
falls back to os.fork if it ever has more), so every lock is free and every registry
already right. glibc's own fork handlers (malloc's locks) still run: this is libc's
fork(), called with the GIL held, so the child continues exactly where the parent does.

A jailed program's random numbers do not depend on it: the sandbox gives each task its
own `random.Random()`, seeded from the OS when the task starts.
"""

from __future__ import annotations

import _thread
import ctypes
import os

_python = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the call keeps the GIL
_python.fork.restype = ctypes.c_int
_python.fork.argtypes = []


def lean_fork() -> int:
    """Like os.fork (0 in the child, the child's pid in the parent, OSError on failure)."""
    if _thread._count():  # another thread may hold a lock: the full hooks (a C call, unlike
        return os.fork()  # threading.active_count, whose Python code a fork would copy)
    pid = _python.fork()
    if pid < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return pid
