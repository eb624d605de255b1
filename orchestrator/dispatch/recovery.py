"""The dispatcher's recovery from Redis trouble and lost calls (docs/reliability.md).

- Redis back after an outage: held sends go out, queues count as moving again, idle
  pooled connections are dropped, and the run id / marker key are checked;
- Redis came back without our data (run id changed and marker gone, or marker gone):
  every call in flight is resent at once, images included;
- a call whose message is in no queue and no unacked entry, unanswered, is resent;
- when a run ends, the messages left over for it are removed (`holdings.purge`).
Resends for these reasons are not counted as a call's attempts.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError

from dicec import keys

log = logging.getLogger(__name__)

# A sent call whose message shows in no queue and no unacked entry this long is lost.
MISSING_GRACE_S = 3.0


class Recovery:
    """Mixin of Dispatcher: recovery (uses its pending calls, health and resend)."""

    redis: Any
    settings: Any
    health: Any
    client_id: str
    reply_to: str
    marker_key: str
    run_id: str | None
    stats: dict[str, int]
    _pending: dict[str, Any]
    _held: list[Any]
    _outbox: list[Any]
    _progress: dict[str, tuple[float, float]]
    _stored_images: set[str]

    async def _mark(self) -> None:
        """Note Redis's run id and leave a marker key: both tell a Redis that restarted,
        and whether it came back without our data."""
        self.run_id = (await self.redis.info("server")).get("run_id")
        await self.redis.set(self.marker_key, self.client_id, ex=keys.REPLY_TTL_S)

    async def _purge_leftovers(self) -> None:
        """Messages of ours still queued or unacked (duplicates of answered calls, or
        calls of an interrupted run) would compute again for nobody: remove them."""
        from dicec.redis_conn import sync_client
        from worker_models.catalogue import CATALOGUE
        from worker_models.holdings import purge

        queues = [keys.queue_for(name) for name in CATALOGUE]
        client = sync_client(self.settings)
        try:
            self.stats["purged"] = await asyncio.to_thread(purge, client, queues, self.reply_to)
        except (RedisError, OSError) as exc:
            log.warning("could not remove leftover messages of this run: %s", exc)
        finally:
            client.close()

    def redis_trouble(self, exc: BaseException) -> None:
        if self.health.trouble(exc):
            self._interrupt()

    def _redis_back(self) -> None:
        """An outage ended: send what was held now; queues that stood still meanwhile
        count as moving again (else every queued call would look stuck and be resent)."""
        now = asyncio.get_running_loop().time()
        self._progress = {fn: (now, newest) for fn, (_, newest) in self._progress.items()}
        self._unpause()
        # Pooled connections from before the outage may be dead: drop the idle ones.
        asyncio.ensure_future(self.redis.connection_pool.disconnect(inuse_connections=False))
        asyncio.ensure_future(self.check_redis_lost())

    async def check_redis_lost(self) -> None:
        """Did Redis restart (run id) and lose our data (marker key gone)? Then every call
        in flight is resent at once, images included: its message, reply or images are
        gone, and waiting for its timeout would cost a call timeout or more."""
        try:
            run_id = (await self.redis.info("server")).get("run_id")
            marked = await self.redis.expire(self.marker_key, keys.REPLY_TTL_S)  # kept alive
        except (RedisError, OSError) as exc:
            self.redis_trouble(exc)
            return
        restarted, self.run_id = run_id != self.run_id, run_id
        if marked:
            if restarted:
                log.warning("Redis restarted with its data (run id changed); carrying on")
            return
        try:
            await self.redis.set(self.marker_key, self.client_id, ex=keys.REPLY_TTL_S)
        except (RedisError, OSError) as exc:
            self.redis_trouble(exc)
            return
        self._resend_everything()

    def resend_missing(self, present: set[str]) -> int:
        """Resend the calls sent a while ago whose message is nowhere in Redis (`present`:
        the call ids queued or unacked, read just now) in two scans MISSING_GRACE_S
        apart, and that are unanswered: lost, however that happened."""
        now = asyncio.get_running_loop().time()
        waiting = {id(i) for i in self._held + self._outbox}
        lost = []
        for inflight in self._pending.values():
            if (
                id(inflight) in waiting
                or not inflight.sent_at
                or now - inflight.sent_at < MISSING_GRACE_S
                or inflight.request.call_id in present
            ):
                inflight.missing_since = None
            elif inflight.missing_since is None:
                inflight.missing_since = now
            elif now - inflight.missing_since >= MISSING_GRACE_S:
                lost.append(inflight)
        for inflight in lost:
            inflight.missing_since = None
            self._resend(inflight, counted=False)
        if lost:
            self.stats["found_missing"] += len(lost)
            log.warning("%d call(s) had no message left in Redis and no reply: resent", len(lost))
        return len(lost)

    def _resend_everything(self) -> None:
        waiting = {id(i) for i in self._held + self._outbox}
        calls = [i for i in self._pending.values() if id(i) not in waiting]
        log.warning(
            "Redis came back without this run's data (restarted without persistence, or "
            "flushed): resending the %d call(s) in flight with their images",
            len(calls) + len(waiting),
        )
        self.stats["redis_lost"] += 1
        self._stored_images.clear()
        for inflight in self._pending.values():
            inflight.restore_images = True
        for inflight in calls:
            self._resend(inflight, counted=False)
