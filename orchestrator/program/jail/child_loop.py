"""A jailed child's event loop: the least that one task in one process needs.

asyncio's own loop is made for a server: its constructor, the selectors layer and the
self-pipe (a socketpair, wrapped twice) cost a freshly forked child ~290 page copies and
~0.65 ms of CPU before the program's first line, and each turn runs more Python than a
child with one socket needs (measured with one fork per variant from a warmed zygote).
This loop keeps what a program's `asyncio` and the child's socket use: ready callbacks,
timers, readers on one epoll, callbacks from the thread a serial program runs in (woken
through an eventfd), and that thread's executor. Futures and tasks are asyncio's own (its
C implementation), so awaiting, cancelling, gather, wait, wait_for, timeout, locks and
queues behave exactly as on asyncio's loop. What it lacks (subprocesses, signals, other
sockets: the jail refuses them anyway) is AbstractEventLoop's NotImplementedError.

It is code inside the jail, like the program: the jail does not depend on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import os
import select
import time
from asyncio import events
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextvars import Context
from typing import Any, TypeVar

T = TypeVar("T")
WAKE = os.EFD_NONBLOCK | os.EFD_CLOEXEC


class ChildLoop(asyncio.AbstractEventLoop):
    def __init__(self) -> None:
        self._ready: collections.deque[events.Handle] = collections.deque()
        self._timers: list[events.TimerHandle] = []  # a heap, by when
        self._readers: dict[int, events.Handle] = {}
        self._epoll: select.epoll | None = None  # opened by open(), in the process it runs in
        self._wake = -1  # an eventfd: a thread's call_soon_threadsafe ends the poll
        self._executor: Executor | None = None
        self.threads: int | None = None  # the executor's, a thread per serial program
        self._running = False
        self._stopping = False
        self._closed = False

    def open(self) -> select.epoll:
        """Make the loop's descriptors now (a jailed child: before seccomp). A zygote
        builds its children's loop without them: an epoll shared by two processes would
        tell one about the other's sockets."""
        if self._epoll is None:
            if self._closed:
                raise RuntimeError("this event loop is closed")
            self._epoll = select.epoll()
            self._wake = os.eventfd(0, WAKE)
            self._epoll.register(self._wake, select.EPOLLIN)
        return self._epoll

    # -- what futures, tasks and a program's asyncio call ---------------------------------
    def time(self) -> float:
        return time.monotonic()

    def call_soon(
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> events.Handle:
        handle = events.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> events.Handle:
        handle = self.call_soon(callback, *args, context=context)  # deque.append is atomic
        with contextlib.suppress(OSError):  # not open yet: runs when it is; closed: too late
            os.eventfd_write(self._wake, 1)
        return handle

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> events.TimerHandle:
        timer = events.TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._timers, timer)
        timer._scheduled = True  # type: ignore[attr-defined]  # what asyncio's loop sets
        return timer

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> events.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def _timer_handle_cancelled(self, handle: events.TimerHandle) -> None:
        """TimerHandle.cancel's hook: a cancelled timer is dropped when it reaches the top."""

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(
        self, coro: Any, *, name: str | None = None, context: Context | None = None
    ) -> asyncio.Task[Any]:
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        if executor is None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="program")
            executor = self._executor
        return asyncio.wrap_future(executor.submit(func, *args), loop=self)

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> None:
        self.remove_reader(fd)
        self.open().register(fd, select.EPOLLIN)
        self._readers[fd] = events.Handle(callback, args, self, None)

    def remove_reader(self, fd: int) -> bool:
        if self._readers.pop(fd, None) is None or self._epoll is None or self._closed:
            return False  # a coroutine finalised after close() still lets go of its fd
        with contextlib.suppress(OSError):  # closed already: epoll forgot it then
            self._epoll.unregister(fd)
        return True

    def get_debug(self) -> bool:
        return False

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """A callback's error or a future's unretrieved one: the child's stderr is
        /dev/null, and the task's own outcome is what reaches the orchestrator."""

    default_exception_handler = call_exception_handler

    # -- running ------------------------------------------------------------------------
    def run_until_complete(self, future: Any) -> Any:
        future = asyncio.ensure_future(future, loop=self)
        future.add_done_callback(lambda _: self.stop())
        self.run_forever()
        if not future.done():
            raise RuntimeError("event loop stopped before the future completed")
        return future.result()

    def run_forever(self) -> None:
        if self._running:
            raise RuntimeError("this event loop is already running")
        epoll = self.open()
        self._running = True
        events._set_running_loop(self)
        try:
            while not self._stopping:
                self._run_once(epoll)
        finally:
            self._stopping = False
            self._running = False
            events._set_running_loop(None)

    def stop(self) -> None:
        self._stopping = True

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._running:
            raise RuntimeError("cannot close a running event loop")
        if not self._closed:
            self._closed = True
            if self._epoll is not None:
                self._epoll.close()
                os.close(self._wake)
            if self._executor is not None:
                self._executor.shutdown(wait=False)

    def _run_once(self, epoll: select.epoll) -> None:
        """Wait for a reader, a thread's callback or the next timer; run what is ready
        now (callbacks scheduled meanwhile wait for the next turn, as in asyncio)."""
        timers = self._timers
        while timers and timers[0].cancelled():
            heapq.heappop(timers)._scheduled = False  # type: ignore[attr-defined]
        if self._ready or self._stopping:
            timeout = 0.0
        elif timers:
            timeout = max(0.0, timers[0].when() - self.time())
        else:
            timeout = -1.0
        for fd, _ in epoll.poll(timeout):
            if fd == self._wake:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self._wake)
            elif (reader := self._readers.get(fd)) is not None:
                self._ready.append(reader)
        now = self.time()
        while timers and timers[0].when() <= now:
            timer = heapq.heappop(timers)
            timer._scheduled = False  # type: ignore[attr-defined]
            if not timer.cancelled():
                self._ready.append(timer)
        ready = self._ready
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle.cancelled():
                handle._run()
