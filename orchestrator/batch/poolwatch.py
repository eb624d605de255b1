"""Which of a batch's functions have a live pool (registry heartbeats), checked once
before the first task and then on every heartbeat period while the batch runs, so that
a function whose queue has no live consumer is reported at once, not after a timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import RedisError

from dicec import keys
from worker_models.registry import live_workers

log = logging.getLogger(__name__)

CHECK_EVERY_S = float(keys.REGISTRY_HEARTBEAT_S)

# say(functions without a live pool): called when that set changes (empty: all served).
SayFn = Callable[[list[str]], None]


def unserved(r: redis.Redis, functions: Iterable[str]) -> list[str]:
    """The functions no live worker serves, sorted."""
    served = {fn for beat in live_workers(r) for fn in beat.functions}
    return sorted(set(functions) - served)


def describe_unserved(functions: list[str]) -> str:
    return ", ".join(f"{fn} (queue {keys.queue_for(fn)})" for fn in functions)


@contextmanager
def watch_pools(
    r: redis.Redis, functions: Iterable[str], say: SayFn, every_s: float = CHECK_EVERY_S
) -> Iterator[None]:
    """Call `say` whenever the set of unserved functions changes, until exit."""
    stop = threading.Event()
    wanted = sorted(set(functions))
    thread = threading.Thread(
        target=_watch, args=(r, wanted, say, every_s, stop), name="dicec-pool-watch", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _watch(
    r: redis.Redis, wanted: list[str], say: SayFn, every_s: float, stop: threading.Event
) -> None:
    last: list[str] = []
    while not stop.wait(every_s):  # a periodic check of the heartbeats, not a result poll
        try:
            now = unserved(r, wanted)
        except RedisError:
            continue  # the store waits Redis out; the watch tries again next period
        if now != last:
            if now:
                log.warning("no live worker serves %s: its calls wait", describe_unserved(now))
            say(now)
            last = now
