"""celery-batches with task events, and flushes that wait for a free process.

celery-batches buffers messages in its own strategy and runs them as one pool job; it
sends none of the per-message task events (received, started, succeeded) that Celery's
default strategy sends. Flower then shows every call of a batched function as pending
forever and counts none of them. `MonitoredBatches` sends those events per message.

Its timer also flushes whatever is buffered every flush_interval, even while every pool
process is busy: under load the pool's inbox fills with flushes of one or two messages,
and calls end up batched per message, not across tasks (seen in
bench/simulator_fidelity.py: BLIP passes averaged 6.4 calls where 8 were possible).
`MonitoredBatches` holds a partial buffer while all processes are busy, so the next
flush takes everything that arrived meanwhile; a full buffer (flush_every messages)
still flushes at once, and a hold never outlasts MAX_HOLD_S (a lost callback cannot
stall the queue). While no pool process is up, nothing flushes: what is buffered, and
flushes no process has accepted yet, are given back to their queues (`give_back`,
called by worker_models/pool_gate.py).
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import count
from time import monotonic
from typing import Any

from celery import signals
from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest, apply_batches_task, consume_queue, partition

# A partial buffer waits at most this long for a busy pool (longer than any model pass
# it waits behind would be better, but a hold only costs batching, never correctness).
MAX_HOLD_S = 5.0


class MonitoredBatches(Batches):
    """A `Batches` task whose messages each emit received/started/succeeded events, and
    whose timer flushes only when a pool process is free to run the flush."""

    abstract = True

    def __init__(self) -> None:
        super().__init__()
        self._running = 0  # flushes handed to the pool and not yet returned
        self._last_flush = 0.0
        # flushes handed to the pool that no process has accepted yet: flush id -> requests
        self._handed: dict[int, Collection[Request]] = {}
        self._flush_ids = count()

    def Strategy(self, task: Any, app: Any, consumer: Any) -> Any:  # Celery's name
        # A consumer restart (the broker connection was lost) builds the strategies anew.
        # Flushes handed out before may never report back, and the flush timer may have
        # gone with the old event loop while celery-batches still thinks it runs (then
        # only full buffers would ever leave). Start both afresh.
        self._running = 0
        self._handed = {}
        if self._tref is not None:
            self._tref.cancel()
            self._tref = None
        return super().Strategy(task, app, consumer)

    def _pool_busy(self) -> bool:
        processes = getattr(self._pool, "num_processes", None) or 1
        return self._running >= processes

    def _do_flush(self) -> None:
        from worker_models.pool_gate import accepting

        if not accepting():
            return  # no process could run it: pool_gate gives the buffer back
        full = self._buffer.qsize() >= self.flush_every
        if not full and self._pool_busy() and monotonic() - self._last_flush < MAX_HOLD_S:
            return  # the timer calls again; meanwhile more messages join this batch
        super()._do_flush()

    def flush(self, requests: Collection[Request]) -> Any:
        # Batches.flush, plus the events Celery's Request sends on accept and on return,
        # and the count of running flushes that _do_flush consults.
        acks_early, acks_late = partition(lambda r: bool(r.task.acks_late), requests)
        serializable = ([SimpleRequest.from_request(r) for r in requests],)
        started = self._last_flush = monotonic()
        self._running += 1
        flush_id = next(self._flush_ids)
        self._handed[flush_id] = requests

        def on_accepted(pid: int, time_accepted: float) -> None:
            self._handed.pop(flush_id, None)
            for req in requests:
                req.send_event("task-started")
            for req in acks_early:
                req.acknowledge()

        def on_return(result: Any) -> None:
            self._handed.pop(flush_id, None)
            self._running = max(0, self._running - 1)
            runtime = monotonic() - started
            for req in acks_late:
                req.acknowledge()
            for req in requests:
                req.send_event("task-succeeded", result=repr(result), runtime=runtime)

        def on_error(*_: Any) -> None:
            # The pool process died under this flush (apply_batches_task catches the
            # task's own exceptions): requeue its messages now, marked redelivered (the
            # crash-loop guard in service.handle counts them), instead of leaving them
            # unacked until the visibility timeout.
            self._handed.pop(flush_id, None)
            self._running = max(0, self._running - 1)
            for req in acks_late:
                req.reject(requeue=True)

        return self._pool.apply_async(
            apply_batches_task,
            (self, serializable, 0, None),
            accept_callback=on_accepted,
            callback=on_return,
            error_callback=on_error,
        )

    def holds(self) -> bool:
        """Messages buffered, or in flushes no process has accepted."""
        return bool(self._handed) or not self._buffer.empty()

    def give_back(self) -> int:
        """Requeue the buffered messages and those of flushes no process accepted (the
        pool dropped those jobs: pool_gate.give_back); how many."""
        requests = list(consume_queue(self._buffer))
        for handed in self._handed.values():
            requests.extend(handed)
        self._running = max(0, self._running - len(self._handed))
        self._handed = {}
        for request in requests:
            request.reject(requeue=True)
        return len(requests)


@signals.task_received.connect
def _announce_buffered(sender: object = None, request: Request | None = None, **_: Any) -> None:
    """celery-batches signals each buffered message: send the event the default strategy
    would have sent (other tasks already sent theirs)."""
    if request is None or not isinstance(request.task, MonitoredBatches):
        return
    request.send_event(
        "task-received",
        name=request.name,
        args=request.argsrepr,
        kwargs=request.kwargsrepr,
        root_id=request.root_id,
        parent_id=request.parent_id,
        retries=request.request_dict.get("retries", 0),
    )
