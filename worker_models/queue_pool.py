"""A worker started the Celery way, `celery -A worker_models.app worker -Q glip,yolov8`
(no DICEC_POOL): its pool is derived from its queues, so that it loads those models,
publishes those functions and serves them. The pool is the smallest pool of the pools
file that hosts every queue's function, narrowed to them (its name and GPU type are what
the cost report bills). A queue no pool can serve stops the worker at start with one line.
"""

from __future__ import annotations

import sys
from typing import Any

from celery.signals import celeryd_init

from dicec import keys
from dicec.errors import ConfigError
from dicec.settings import get_settings
from worker_models.catalogue import CATALOGUE
from worker_models.pools import Pool, PoolsFile, load_pools

# Queues a worker may consume that host no model (benchmarks' echo, baseline nodes).
MODEL_FREE_QUEUES = (keys.ECHO_QUEUE, keys.MONOLITH_QUEUE, "celery")

_derived: Pool | None = None


def derived_pool() -> Pool | None:
    """The pool this process derived from its queues (inherited by forked children)."""
    return _derived


def pool_for_queues(queues: list[str], pools: PoolsFile) -> Pool | None:
    """The pool that serves exactly these queues' functions; None when none is a model's."""
    functions = [q for q in queues if q in CATALOGUE]
    unknown = [q for q in queues if q not in CATALOGUE and q not in MODEL_FREE_QUEUES]
    if unknown:
        raise ConfigError(
            f"queue(s) {', '.join(unknown)} serve no function; the functions are "
            f"{', '.join(sorted(CATALOGUE))}"
        )
    if not functions:
        return None
    hosts = [p for p in pools.pools if set(functions) <= set(p.functions)]
    if not hosts:
        raise ConfigError(
            f"no pool of pools file {pools.name!r} hosts {', '.join(functions)} together; "
            "start `dicec worker --pool NAME` or pass queues of one pool"
        )
    pool = min(hosts, key=lambda p: len(p.functions))
    batching = {fn: b for fn, b in pool.batching.items() if fn in functions}
    return pool.model_copy(update={"functions": functions, "batching": batching})


@celeryd_init.connect
def _derive_pool(options: dict[str, Any] | None = None, **_: object) -> None:
    global _derived
    settings = get_settings()
    if settings.pool:
        return  # `dicec worker --pool NAME` said which pool
    queues = list((options or {}).get("queues") or [])
    try:
        _derived = pool_for_queues(queues, load_pools(settings.pools_file))
    except ConfigError as exc:
        line = " ".join(f"error: this worker cannot serve -Q {','.join(queues)}: {exc}".split())
        print(line, file=sys.stderr)
        raise SystemExit(2) from None
