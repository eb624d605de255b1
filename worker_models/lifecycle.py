"""Start-up and shut-down hooks of a pool's worker processes (Celery signals).

Models load once per process, here, never per task; the process then publishes its
functions to the runtime registry, starts its heartbeat and marks itself ready.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from celery.signals import worker_process_init, worker_process_shutdown

from dicec.settings import get_settings
from worker_models import holdings  # noqa: F401 - connects the node's holdings beat
from worker_models.registry import Heartbeat, publish_functions
from worker_models.service import POOL_ENV, FunctionService, build_service, set_service

log = logging.getLogger(__name__)

READY_FILE_ENV = "DICEC_READY_FILE"
DEFAULT_READY_FILE = "/tmp/dicec-ready"
_heartbeat: Heartbeat | None = None


def ready_file() -> Path:
    return Path(os.environ.get(READY_FILE_ENV, DEFAULT_READY_FILE))


@worker_process_init.connect
def _load_models(**_: object) -> None:
    pool_name = os.environ.get(POOL_ENV)
    if not pool_name:
        return  # a baseline node (its own hook) or a plain `celery worker` (echo benchmarks)
    settings = get_settings()
    pools_file = str(settings.pools_file) if settings.pools_file else None
    service = build_service(pool_name, pools_file, settings)
    set_service(service)
    announce(service)


def announce(service: FunctionService) -> None:
    """Publish the process's functions, start its heartbeat and mark it ready."""
    global _heartbeat
    publish_functions(service.redis, service.pool.functions)
    _heartbeat = Heartbeat(
        service.redis, service.pool.name, service.gpu_type, service.pool.functions
    )
    _heartbeat.start()
    ready_file().parent.mkdir(parents=True, exist_ok=True)
    ready_file().touch()
    log.info(
        "pool %s: process %d ready (%s)",
        service.pool.name,
        os.getpid(),
        ", ".join(service.pool.functions),
    )


@worker_process_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
