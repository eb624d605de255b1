"""A baseline node's one event loop, on a thread of its own, shared by its task threads.

A node runs up to `monolith_tasks_at_once` tasks on Celery's threads pool, each on a
thread of its own. They must share one loop: the jail's zygote reads its control socket
on one loop (a task on another would move that reader under a task still running). So
every task thread hands its coroutine to this loop and waits for the result; their
calls meet on the one model thread (dispatch.local_calls), one at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
THREAD_NAME = "node-loop"


class NodeLoop:
    """Runs coroutines from any thread on one event loop, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # two task threads may be the first at once

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the node's loop; its result, or what it raised."""
        return asyncio.run_coroutine_threadsafe(coro, self._started()).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=THREAD_NAME, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Close the loop as asyncio.run would: tasks cancelled, async generators and the
        default executor shut down; then its thread ends (a later run starts a new one)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(_wind_down(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _wind_down() -> None:
    loop = asyncio.get_running_loop()
    pending = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
