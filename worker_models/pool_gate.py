"""A node takes messages only while one of its pool processes is up, and gives back what
it holds when none is.

A node's parent process consumes its queues whether or not a pool process can run what
it takes. Two faults showed the cost (fault suite, 300-task batches: makespan 40 s vs
18 s fault-free):
- a pool process killed: its replacement loads its models first (seconds; a real
  checkpoint, far longer) while the parent keeps the messages it had prefetched (up to
  two flushes of a batching pool, 16 here) waiting for it; every task with a call among
  them stalls, and with them the whole batch;
- a node (re)started: its parent prefetches before its process has loaded its models,
  so the calls it took wait for that load while other nodes are idle.

So `accepting()` (read by the broker's QoS, worker_models.broker) is false while no pool
process of this node is up, and each CHECK_S a consumer step gives back, with
requeue, every message this node holds that no process has started. A message that a
process had started when it died is requeued by Celery (reject_on_worker_lost) or by the
batching task's error callback, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from celery.worker import state

from worker_models.batch_events import MonitoredBatches

log = logging.getLogger(__name__)

CHECK_S = 0.2  # how soon a node whose processes are all down gives back what it holds

_pool: Any = None  # this node's process pool (billiard's AsynPool), once it consumes


def processes_up(pool: Any) -> int | None:
    """Pool processes that said they are up (models loaded) and are still alive; None
    for a pool that does not tell (solo, threads: always up)."""
    inqueues = getattr(pool, "_all_inqueues", None)
    return None if inqueues is None else len(inqueues)


def accepting() -> bool:
    """May this process take more messages? True outside a prefork worker."""
    return _pool is None or processes_up(_pool) != 0


def give_back(consumer: Any) -> int:
    """Requeue the messages this node holds that no pool process has started (its pool
    has none up); how many."""
    waiting = [
        r
        for r in list(state.reserved_requests)
        if r not in state.active_requests and not r.acknowledged
    ]
    batching = [t for t in consumer.app.tasks.values() if isinstance(t, MonitoredBatches)]
    if not waiting and not any(t.holds() for t in batching):
        return 0
    if consumer.pool.flush:
        consumer.pool.flush()  # drops the jobs no process accepted, as a reconnect does
    for request in waiting:
        request.reject(requeue=True)
        state.task_ready(request)
    return len(waiting) + sum(t.give_back() for t in batching)


class PoolGate(bootsteps.StartStopStep):
    """Consumer step: no process up means nothing held (see the module docstring)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._tref: Any = None

    def start(self, c: Any) -> None:
        global _pool
        _pool = getattr(c.pool, "_pool", None)
        self._tref = c.timer.call_repeatedly(CHECK_S, self._check, (c,))

    def stop(self, c: Any) -> None:
        if self._tref is not None:
            self._tref.cancel()
            self._tref = None

    def _check(self, c: Any) -> None:
        if accepting():
            return
        try:
            given = give_back(c)
        except Exception:  # a bug here must not stop the node's event loop
            log.exception("could not give back the messages of a node with no process up")
            return
        if given:
            log.warning(
                "no pool process is up (one died, or models are loading): gave back %d "
                "message(s) to their queues",
                given,
            )
