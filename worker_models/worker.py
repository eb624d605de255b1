"""`dicec worker --pool NAME`: a real Celery worker for one pool of the pools file."""

from __future__ import annotations

import os
import uuid

from dicec import keys
from dicec.settings import Settings
from worker_models.pools import load_pools, resolve_pools_path
from worker_models.service import POOL_ENV


def worker_argv(pool_name: str, pools_file: str | None, settings: Settings,
                loglevel: str = "INFO") -> list[str]:
    """The `celery worker` arguments for a pool (validates the pools file first)."""
    pools = load_pools(pools_file)
    pool = pools.pool(pool_name)
    queues = ",".join(keys.queue_for(fn) for fn in pool.functions)
    # Unique node name: several processes of one pool may share a host.
    node = f"{pool.name}-{uuid.uuid4().hex[:6]}@%h"
    return [
        "worker", "-Q", queues, "-c", str(pool.concurrency), "-n", node, "-E",
        "-P", "prefork", "--prefetch-multiplier", "1", "-l", loglevel,
        "--without-gossip", "--without-mingle",
    ]


def run_worker(pool_name: str, pools_file: str | None, settings: Settings,
               loglevel: str = "INFO") -> None:
    argv = worker_argv(pool_name, pools_file, settings, loglevel)
    # Child processes read these in their start-up hook (lifecycle.py).
    os.environ[POOL_ENV] = pool_name
    os.environ["DICEC_POOLS_FILE"] = str(resolve_pools_path(pools_file).resolve())
    from dicec.settings import get_settings
    from worker_models.app import app

    get_settings.cache_clear()  # forked children must see the pools file set above

    app.worker_main(argv)
