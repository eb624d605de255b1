"""`dicec worker --pool NAME`: a real Celery worker for one pool of the pools file."""

from __future__ import annotations

import os
import uuid

from dicec import keys
from dicec.settings import Settings, env_name, get_settings
from worker_models.pools import Pool, load_pools, resolve_pools_path


def worker_argv(
    pool_name: str, pools_file: str | None, settings: Settings, loglevel: str = "INFO"
) -> list[str]:
    """The `celery worker` arguments for a pool (validates the pools file first)."""
    pools = load_pools(pools_file)
    pool = pools.pool(pool_name)
    queues = ",".join(keys.queue_for(fn) for fn in pool.functions)
    prefetch = prefetch_for(pool)
    return _celery_worker_argv(queues, pool.concurrency, pool.name, prefetch, loglevel)


def prefetch_for(pool: Pool) -> int:
    """Prefetch 1 for model pools, except that a batching pool holds two flushes: the one
    its process runs and the next one, gathering meanwhile (batch_events.MonitoredBatches
    flushes when the process is free). With room for one flush only, every message of the
    running flush is unacked (late acks), so nothing new arrives until it returns."""
    return max([1] + [2 * b.max_batch_size for b in pool.batching.values()])


# A baseline node holds five tasks: while one task's call runs on its models (each call
# alone, in its model process), the others arrive, start their jailed children and run
# up to their next calls. A serial program sends its next call only after its last
# reply, so a task between tasks (its `done`, the reply push, the handoff, the next
# child: ~12 ms) leaves the models fed by the others; with three, the models still found
# no call waiting 4.2 ms a task, with five 0.33 (the split bench/baseline_timeline.py
# prints; docs/architecture.md, rounds 9 and 11). Threads, not prefork: the tasks share the
# node's one process, loop and jail; the models are not in it.
MONOLITH_TASKS_IN_FLIGHT = 5


def monolith_argv(loglevel: str = "INFO") -> list[str]:
    """A baseline node: whole programs from the monolith queue, every model loaded."""
    return _celery_worker_argv(
        keys.MONOLITH_QUEUE, MONOLITH_TASKS_IN_FLIGHT, "baseline", 1, loglevel, pool="threads"
    )


def _celery_worker_argv(
    queues: str,
    concurrency: int,
    name: str,
    prefetch: int,
    loglevel: str,
    pool: str = "prefork",
) -> list[str]:
    # Unique node name: several processes of one pool may share a host.
    node = get_settings().node_name or f"{name}-{uuid.uuid4().hex[:6]}@%h"
    return [
        *("worker", "-Q", queues, "-c", str(concurrency), "-n", node),
        *("-E", "-P", pool, "--prefetch-multiplier", str(prefetch), "-l", loglevel),
        *("--without-gossip", "--without-mingle"),
    ]


def pools_env(pools_file: str | None, pool_name: str | None = None) -> None:
    """Hand the pools file (and the pool) to the worker's forked children: their start-up
    hooks (lifecycle.py) read them back through Settings."""
    os.environ[env_name("pools_file")] = str(resolve_pools_path(pools_file).resolve())
    if pool_name is not None:
        os.environ[env_name("pool")] = pool_name
    get_settings.cache_clear()  # forked children must see the variables set above


def run_worker(
    pool_name: str, pools_file: str | None, settings: Settings, loglevel: str = "INFO"
) -> None:
    """Start a pool worker: a Celery worker on the queues of the pool's functions."""
    argv = worker_argv(pool_name, pools_file, settings, loglevel)
    pools_env(pools_file, pool_name)
    from worker_models.app import app

    app.worker_main(argv)
