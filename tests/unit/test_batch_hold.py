"""MonitoredBatches holds a partial buffer while every pool process is busy."""

from __future__ import annotations

from collections.abc import Collection
from time import monotonic
from types import SimpleNamespace
from typing import Any

from worker_models.batch_events import MAX_HOLD_S, MonitoredBatches


class RecordedBatches(MonitoredBatches):
    """The real buffer and hold logic; the hand-off to the pool is recorded instead."""

    flush_every = 4

    def __init__(self, processes: int = 1) -> None:
        super().__init__()
        self._pool = SimpleNamespace(num_processes=processes)
        self.flushed: list[int] = []

    def flush(self, requests: Collection[Any]) -> None:
        self.flushed.append(len(requests))
        self._running += 1
        self._last_flush = monotonic()

    def buffer(self, n: int) -> None:
        for _ in range(n):
            self._buffer.put(SimpleNamespace(eta=None))


def test_a_partial_buffer_waits_while_the_pool_is_busy() -> None:
    task = RecordedBatches()
    task.buffer(2)
    task._do_flush()
    assert task.flushed == [2]  # the pool was free: flush at once
    task.buffer(2)
    task._do_flush()
    assert task.flushed == [2] and task._buffer.qsize() == 2  # busy: held
    task.buffer(1)
    task._running = 0  # the running flush returned
    task._do_flush()
    assert task.flushed == [2, 3]  # everything that arrived meanwhile, in one flush


def test_a_full_buffer_flushes_even_when_busy() -> None:
    task = RecordedBatches()
    task._running, task._last_flush = 1, monotonic()
    task.buffer(4)
    task._do_flush()
    assert task.flushed == [4]


def test_a_hold_ends_after_max_hold_s_and_idle_processes_count() -> None:
    task = RecordedBatches()
    task._running, task._last_flush = 1, monotonic() - MAX_HOLD_S - 1
    task.buffer(1)
    task._do_flush()
    assert task.flushed == [1]  # a lost callback cannot stall the queue
    two = RecordedBatches(processes=2)
    two._running, two._last_flush = 1, monotonic()
    two.buffer(1)
    two._do_flush()
    assert two.flushed == [1]  # one of two processes is free


def test_a_consumer_restart_starts_the_bookkeeping_and_the_timer_afresh() -> None:
    """Seen in the Redis-restart fault scenario: the flush running when the connection
    dropped never reported back, and the flush timer was gone; only full buffers left and
    the batch took 92 s instead of 9."""
    from worker_models.app import app

    task = RecordedBatches()
    cancelled: list[bool] = []
    task._running = 1
    task._tref = SimpleNamespace(cancel=lambda: cancelled.append(True))
    consumer = SimpleNamespace(
        pool=SimpleNamespace(num_processes=1, apply_async=None),
        hostname="restarted@test",
        connection_errors=(),
        event_dispatcher=None,
        timer=None,
    )
    handler = task.Strategy(task, app, consumer)
    assert callable(handler)
    assert task._running == 0 and task._tref is None and cancelled == [True]
