"""Which of a batch's functions have a live pool (registry heartbeats), checked once
before the first task and then on every heartbeat period while the batch runs, so that
a function whose queue has no live consumer is reported at once, not after a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
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
# (seconds, callback): a function unserved this long is given up on (the batch stops).
GiveUp = tuple[float, Callable[[list[str]], None]]


def unserved(r: redis.Redis, functions: Iterable[str]) -> list[str]:
    """The functions no live worker serves, sorted."""
    served = {fn for beat in live_workers(r) for fn in beat.functions}
    return sorted(set(functions) - served)


def describe_unserved(functions: list[str]) -> str:
    return ", ".join(f"{fn} (queue {keys.queue_for(fn)})" for fn in functions)


@contextmanager
def watch_pools(
    r: redis.Redis,
    functions: Iterable[str],
    say: SayFn,
    every_s: float = CHECK_EVERY_S,
    give_up: GiveUp | None = None,
) -> Iterator[None]:
    """Call `say` whenever the set of unserved functions changes, until exit; with
    `give_up` (seconds, callback), call it once when a function stayed unserved so long."""
    stop = threading.Event()
    watch = _Watch(r, sorted(set(functions)), say, give_up)
    thread = threading.Thread(
        target=watch.run, args=(every_s, stop), name="dicec-pool-watch", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class _Watch:
    def __init__(
        self, r: redis.Redis, wanted: list[str], say: SayFn, give_up: GiveUp | None
    ) -> None:
        self.r, self.wanted, self.say, self.give_up = r, wanted, say, give_up
        self.last: list[str] = []
        self.since: dict[str, float] = {}  # function -> when it was first seen unserved

    def run(self, every_s: float, stop: threading.Event) -> None:
        self.check()
        while not stop.wait(every_s):  # a periodic look at the heartbeats, not a result poll
            self.check()

    def check(self) -> None:
        try:
            now = unserved(self.r, self.wanted)
        except RedisError:
            return  # the store waits Redis out; the watch looks again next period
        if now != self.last:
            if now:
                log.warning("no live worker serves %s: its calls wait", describe_unserved(now))
            self.say(now)
            self.last = now
        t = time.monotonic()
        self.since = {fn: self.since.get(fn, t) for fn in now}
        if self.give_up is not None:
            limit_s, callback = self.give_up
            late = sorted(fn for fn, first in self.since.items() if t - first >= limit_s)
            if late:
                callback(late)
                self.give_up = None
