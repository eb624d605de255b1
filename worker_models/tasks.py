"""Celery tasks: one per catalogue function (queue = function name), plus a raw echo task
that benchmarks use as the baseline cost of plain Celery.

Dynamic batching: in a pool whose pools file sets `max_batch_size > 1` for a function,
that function's task is a celery-batches `Batches` task: the worker buffers up to
`max_batch_size` messages or waits at most `max_wait_ms`, then runs them as one chunk
(one forward pass). Each message is still acked on its own, late (celery-batches acks
acks_late requests when the batch returns), and each call gets its own reply and trace.
Limits we accept, knowingly: the worker's prefetch must cover two flushes (see
worker.prefetch_for), and a batch whose process dies is requeued by its parent's error
callback (batch_events.MonitoredBatches.flush), not by reject_on_worker_lost.
"""

from __future__ import annotations

from typing import Any

from dicec import keys
from dicec.settings import get_settings
from worker_models import lifecycle  # noqa: F401 - connects the start-up hooks
from worker_models.app import app
from worker_models.batch_events import MonitoredBatches
from worker_models.catalogue import CATALOGUE
from worker_models.pools import Batching
from worker_models.queue_pool import derived_pool
from worker_models.service import current_service


def _batching(function: str) -> Batching:
    """This process's batching for a function: from its pool, none outside a pool."""
    derived = derived_pool()
    if derived is not None:
        return derived.batching_for(function)
    settings = get_settings()
    if not settings.pool:
        return Batching()
    from worker_models.pools import load_pools

    pools_file = str(settings.pools_file) if settings.pools_file else None
    pool = load_pools(pools_file).pool(settings.pool)
    return pool.batching_for(function) if function in pool.functions else Batching()


def _redelivered(request: Any) -> bool:
    """kombu's Redis transport marks a message it restores (rejected by a parent whose
    pool process died, or unacked past the visibility timeout) as redelivered."""
    return bool((getattr(request, "delivery_info", None) or {}).get("redelivered"))


def _register(function: str) -> None:
    name = keys.task_name_for(function)
    batching = _batching(function)
    if batching.max_batch_size > 1:

        @app.task(
            name=name,
            base=MonitoredBatches,
            ignore_result=True,
            acks_late=True,
            flush_every=batching.max_batch_size,
            flush_interval=max(batching.max_wait_ms, 1.0) / 1000,
        )
        def serve_batch(requests: list[Any]) -> None:
            hostname = (requests[0].hostname if requests else "") or ""
            fresh = [call for r in requests if not _redelivered(r) for call in r.args[0]]
            again = [call for r in requests if _redelivered(r) for call in r.args[0]]
            if fresh:
                current_service().handle(function, fresh, worker=hostname)
            if again:
                current_service().handle(function, again, worker=hostname, redelivered=True)

        return

    @app.task(name=name, bind=True, ignore_result=True)
    def serve(self, requests: list[dict[str, Any]]) -> None:  # noqa: ANN001 - Celery's bind
        current_service().handle(
            function,
            requests,
            worker=self.request.hostname or "",
            redelivered=_redelivered(self.request),
        )


for _name in CATALOGUE:
    _register(_name)


@app.task(name="dicec.echo")
def echo(value: Any) -> Any:
    """Raw Celery round trip (result backend and all): the benchmark baseline."""
    return value
