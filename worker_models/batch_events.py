"""celery-batches with task events, so Flower sees every batched call.

celery-batches buffers messages in its own strategy and runs them as one pool job; it
sends none of the per-message task events (received, started, succeeded) that Celery's
default strategy sends. Flower then shows every call of a batched function as pending
forever and counts none of them. `MonitoredBatches` sends those events per message.
"""

from __future__ import annotations

from collections.abc import Collection
from time import monotonic
from typing import Any

from celery import signals
from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest, apply_batches_task, partition


class MonitoredBatches(Batches):
    """A `Batches` task whose messages each emit received/started/succeeded events."""

    abstract = True

    def flush(self, requests: Collection[Request]) -> Any:
        # Batches.flush, plus the events Celery's Request sends on accept and on return.
        acks_early, acks_late = partition(lambda r: bool(r.task.acks_late), requests)
        serializable = ([SimpleRequest.from_request(r) for r in requests],)
        started = monotonic()

        def on_accepted(pid: int, time_accepted: float) -> None:
            for req in requests:
                req.send_event("task-started")
            for req in acks_early:
                req.acknowledge()

        def on_return(result: Any) -> None:
            runtime = monotonic() - started
            for req in acks_late:
                req.acknowledge()
            for req in requests:
                req.send_event("task-succeeded", result=repr(result), runtime=runtime)

        return self._pool.apply_async(
            apply_batches_task,
            (self, serializable, 0, None),
            accept_callback=on_accepted,
            callback=on_return,
        )


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
