"""One thread of a process on which its model calls run: a shallow Python stack.

CPython 3.11 keeps a thread's frames in chunks of 16 KiB: a call that finds no room in
the current chunk maps a fresh one, and when that call returns the chunk is unmapped.
A model call goes up and down a few dozen frames thousands of times (every module's
forward, every generate step). Run deep under a framework (a Celery task, an asyncio
loop, the program jail's session), the edge of a chunk can fall inside that motion, and
then every crossing maps a chunk, faults its pages in and unmaps it again: one BLIP
call (224 px, batch 1) costs 13.2-13.9 CPU-ms from depths 0-44 and up to 17.1 from depths
48-112, with 70-270 page faults (bench/stack_depth.py). The baseline node's calls sat in
such a band; the plain loop's models run a few frames above the bottom of its stack.

A thread of its own starts at the bottom of its own first chunk, which is never freed,
a few frames down, as the plain loop's main thread does; its calls are handed over one
at a time and waited for, so callers keep their one-call-at-a-time semantics. The
thread starts on first use, in the process that uses it: a pool's service may be built
before its process is forked, and a thread does not survive a fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
THREAD_NAME = "models"


class ModelThread:
    """Runs each function handed to it on this object's one thread, and waits for it."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0  # the process the thread was started in

    def run(self, fn: Callable[[], T]) -> T:
        """`fn()` on the model thread; its result, or what it raised."""
        if self._pool is None or self._pid != os.getpid():
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
            self._pid = os.getpid()
        return self._pool.submit(fn).result()

    def close(self) -> None:
        """Let the call in progress finish, then stop the thread (a later run starts one)."""
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=True)
        self._pool = None
