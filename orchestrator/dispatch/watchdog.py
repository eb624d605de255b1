"""The dispatcher's watchdog: finds lost calls by evidence, not by call timeouts.

Every WATCH_INTERVAL_S while calls are in flight:
- Redis restarted or was flushed (run id, marker key): the dispatcher resends every
  call in flight at once, with its images (Dispatcher.check_redis_lost);
- a worker node died or froze: the messages it held are unacked and no live node
  reports them (worker_models/holdings.py); they go back onto their queues at once;
- every MISSING_SCAN_EVERY rounds, a call whose message is in no queue and unacked by
  nobody, and still unanswered, is lost (however it was lost): it is resent.
Both run on fresh connections of their own. The watchdog never dies: an error is Redis
trouble (noted in the health record, once per episode) or a bug (logged, next round).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import redis
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from dicec import keys
from dicec.redis_conn import sync_client
from dicec.settings import Settings
from worker_models.catalogue import CATALOGUE
from worker_models.holdings import (
    OrphanFinder,
    present_call_ids,
    read_holdings,
    restore,
    unacked_tags,
)

if TYPE_CHECKING:
    from orchestrator.dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0
MISSING_SCAN_EVERY = 3  # rounds: a scan reads every queue and the unacked hash


class Watchdog:
    def __init__(self, dispatcher: Dispatcher, settings: Settings) -> None:
        self.dispatcher = dispatcher
        self.settings = settings
        self.orphans = OrphanSweep(settings)
        self._rounds = 0
        self._queues = [keys.queue_for(name) for name in CATALOGUE]

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(WATCH_INTERVAL_S)
                try:
                    await self._round()
                except Exception:  # a bug must not end the watchdog: it would fail silently
                    log.exception(
                        "dispatch watchdog round failed; next round in %.0f s", WATCH_INTERVAL_S
                    )
        finally:
            await asyncio.to_thread(self.orphans.close)

    async def _round(self) -> None:
        dispatcher = self.dispatcher
        if dispatcher.health.down or not dispatcher.in_flight:
            self.orphans.finder.reset()  # nobody could beat during an outage: start afresh
            return
        try:
            await dispatcher.check_redis_lost()
            restored = await asyncio.to_thread(self.orphans.sweep)
            self._rounds += 1
            if self._rounds % MISSING_SCAN_EVERY == 0:
                present = await asyncio.to_thread(
                    present_call_ids, self.orphans.client(), self._queues
                )
                dispatcher.resend_missing(present)
        except (RedisError, OSError, KombuError) as exc:
            dispatcher.redis_trouble(exc)
            self.orphans.finder.reset()
            await asyncio.to_thread(self.orphans.close)
            return
        if restored:
            dispatcher.stats["restored"] += restored
            log.warning(
                "%d message(s) were held by no live worker (a worker died or froze): "
                "put back on their queues",
                restored,
            )


class OrphanSweep:
    """Puts back on its queue every unacked message that no live node holds (a node
    that died or froze holding it), on connections of its own. The dispatcher's watchdog
    sweeps for calls; a baseline batch sweeps for the tasks its nodes hold."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.finder = OrphanFinder()
        self._client: redis.Redis | None = None
        self._conn: Any = None  # a kombu connection, for kombu's own restore

    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = sync_client(self.settings)
        return self._client

    def sweep(self) -> int:
        """Restore the orphaned messages; how many. No sweep while no node reports its
        holdings (workers that do not beat): nothing could be told apart."""
        holdings = read_holdings(self.client())
        if not holdings:
            return 0
        orphans = self.finder.orphans(time.monotonic(), holdings, unacked_tags(self.client()))
        if not orphans:
            return 0
        if self._conn is None:
            from worker_models.app import app

            self._conn = app.connection_for_write()
        return restore(self._conn.default_channel, orphans)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.release()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._conn = self._client = None
