"""Start-up and shut-down hooks of a pool's worker processes (Celery signals).

Models load once per process, here, never per task; the process then publishes its
functions to the runtime registry, starts its heartbeat and marks itself ready.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import redis
from celery.signals import (
    heartbeat_sent,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from dicec.settings import get_settings
from worker_models import holdings  # noqa: F401 - connects the node's holdings beat
from worker_models.loading import import_backend_code
from worker_models.pools import Pool, load_pools
from worker_models.queue_pool import derived_pool
from worker_models.registry import Heartbeat, publish_functions
from worker_models.service import (
    FunctionService,
    build_service,
    build_service_for_pool,
    set_service,
)

log = logging.getLogger(__name__)

_heartbeat: Heartbeat | None = None


LIVE_SUFFIX = ".live"


def ready_file() -> Path:
    return get_settings().ready_file


def live_file() -> Path:
    """Touched on every Celery heartbeat of the main process (the pods' liveness probe)."""
    ready = ready_file()
    return ready.with_name(ready.name + LIVE_SUFFIX)


@heartbeat_sent.connect
def _touch_live(**_: object) -> None:
    try:
        live_file().touch()
    except OSError as exc:  # a read-only /tmp must not stop the heartbeat
        log.warning("cannot touch the liveness file %s: %s", live_file(), exc)


@worker_init.connect
def _import_backend_code(**_: object) -> None:
    """In a pool node's parent, before it forks the processes that load the models: a
    process forked to replace one that died is up in a fraction of the time."""
    settings = get_settings()
    derived = derived_pool()
    if derived is not None and not settings.pool:
        functions = derived.functions
    elif settings.pool:
        pools_file = str(settings.pools_file) if settings.pools_file else None
        functions = load_pools(pools_file).pool(settings.pool).functions
    else:
        return  # a baseline node or a plain `celery worker`
    try:
        import_backend_code(functions)
    except ImportError as exc:  # each process says what is missing when it loads
        log.warning("could not import the backends' code ahead of the pool: %s", exc)


@worker_process_init.connect
def _load_models(**_: object) -> None:
    settings = get_settings()
    pool_name = settings.pool
    derived = derived_pool()
    if derived is not None and not pool_name:  # `celery worker -Q glip,...`
        service = build_service_for_pool(derived, settings)
        set_service(service)
        announce(service)
        return
    if not pool_name:
        return  # a baseline node (its own hook) or a plain `celery worker` (echo benchmarks)
    pools_file = str(settings.pools_file) if settings.pools_file else None
    service = build_service(pool_name, pools_file, settings)
    set_service(service)
    announce(service)


def announce(service: FunctionService) -> None:
    """Publish the process's functions, start its heartbeat and mark it ready."""
    announce_pool(service.redis, service.pool, service.gpu_type)


def announce_pool(r: redis.Redis, pool: Pool, gpu_type: str) -> None:
    """The same for a process that serves `pool` without holding its service (a baseline
    node, whose models live in a model process of their own)."""
    global _heartbeat
    publish_functions(r, pool.functions)
    _heartbeat = Heartbeat(r, pool.name, gpu_type, pool.functions)
    _heartbeat.start()
    ready_file().parent.mkdir(parents=True, exist_ok=True)
    ready_file().touch()
    log.info("pool %s: process %d ready (%s)", pool.name, os.getpid(), ", ".join(pool.functions))


@worker_process_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    stop_heartbeat()


def stop_heartbeat() -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
