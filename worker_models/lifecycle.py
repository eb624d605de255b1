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
from worker_models.registry import Heartbeat, publish_functions
from worker_models.service import POOL_ENV, build_service, set_service

log = logging.getLogger(__name__)

READY_FILE_ENV = "DICEC_READY_FILE"
MONOLITH_ENV = "DICEC_MONOLITH"
DEFAULT_READY_FILE = "/tmp/dicec-ready"
_heartbeat: Heartbeat | None = None


def ready_file() -> Path:
    return Path(os.environ.get(READY_FILE_ENV, DEFAULT_READY_FILE))


@worker_process_init.connect
def _load_models(**_: object) -> None:
    global _heartbeat
    pool_name = os.environ.get(POOL_ENV)
    if os.environ.get(MONOLITH_ENV):
        from orchestrator.monolith import install_monolith_service

        service = install_monolith_service()
        pool_name = service.pool.name
    elif not pool_name:
        return  # a plain `celery worker` without a pool (echo benchmarks)
    else:
        settings = get_settings()
        pools_file = str(settings.pools_file) if settings.pools_file else None
        service = build_service(pool_name, pools_file, settings)
        set_service(service)
    publish_functions(service.redis, service.pool.functions)
    _heartbeat = Heartbeat(
        service.redis, service.pool.name, service.gpu_type, service.pool.functions
    )
    _heartbeat.start()
    ready_file().parent.mkdir(parents=True, exist_ok=True)
    ready_file().touch()
    log.info(
        "pool %s: process %d ready (%s)", pool_name, os.getpid(), ", ".join(service.pool.functions)
    )


@worker_process_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
