"""The dispatcher's reply listener: one task per orchestrator process that never dies.

Every Redis error (refused, reset, timed out, UNBLOCKED, OOM, read-only) is noted in the
run's health record (said once per episode) and retried with back-off; a listener task
that exits while the dispatcher runs is restarted (supervision by done-callback).
Replies are *taken*: moved onto the taken list (BLMOVE, then up to REPLY_DRAIN_MAX more
by one Lua script), handled, and only then deleted. A Redis frozen mid-read still runs
the read when it thaws and sends its answer to a connection the client gave up; with a
plain BLPOP that reply was lost. After an error the taken list is read again; a reply
handled twice is dropped by call id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError

from dicec import keys

log = logging.getLogger(__name__)

REPLY_DRAIN_MAX = 500
LISTENER_BLOCK_S = 1
LISTENER_RESTART_DELAY_S = 0.5
STOP_SENTINEL = b"__dicec_stop__"
# Moves up to ARGV[1] more replies from the reply list to the taken list, atomically, and
# returns them: a reply is never only in flight on a connection that may die.
TAKE_REPLIES_LUA = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('RPUSH', KEYS[2], unpack(items))  -- first: refused on a full Redis
  redis.call('LTRIM', KEYS[1], #items, -1)
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return items
"""


class ReplyListener:
    """Mixin of Dispatcher: the listener's part (uses its redis, health and _on_reply)."""

    redis: Any
    reply_to: str
    reply_taken: str
    _retake: bool
    _taken_handled: int
    _stopping: bool
    _listener: asyncio.Task[None] | None
    _listen_backoff: Any
    stats: dict[str, int]

    def _start_listener(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="dicec-reply-listener")
        self._listener.add_done_callback(self._listener_done)

    def _listener_done(self, task: asyncio.Task[None]) -> None:
        """Supervision: a listener that exits while the dispatcher runs is restarted."""
        if self._stopping:
            return
        problem = "cancelled" if task.cancelled() else repr(task.exception())
        log.error("the reply listener stopped (%s); restarting it", problem)
        self.stats["listener_restarts"] += 1
        asyncio.get_running_loop().call_later(LISTENER_RESTART_DELAY_S, self._start_listener)

    async def _listen(self) -> None:
        """Every Redis error (refused, timed out, reset, full...) is noted in the health
        record (said once per episode) and retried with back-off; replies that arrived
        meanwhile wait in the reply list and are drained when Redis answers again.

        Replies are moved to a "taken" list, handled, then the taken list is emptied: a
        Redis frozen mid-read still runs the read once it thaws, and its answer goes to
        a connection the client already gave up; the taken list keeps those replies
        (read again after any error; a reply handled twice is dropped by call id)."""
        while not self._stopping:
            try:
                raws = await self._read_replies()
            except (RedisError, OSError) as exc:
                self._retake = True
                self.redis_trouble(exc)
                await asyncio.sleep(self._listen_backoff.next())  # Redis away: back off
                continue
            self._listen_backoff.reset()
            if self.health.ok(wrote=False):
                self._redis_back()
            if raws and not await self._handle(raws):
                return

    async def _handle(self, raws: list[bytes]) -> bool:
        """Handle taken replies, then forget them; False on the stop sentinel."""
        for raw in raws:
            if raw != STOP_SENTINEL:
                self._on_reply(raw)
        self._taken_handled += len(raws)
        try:
            await self.redis.delete(self.reply_taken)
            self._taken_handled = 0
        except (RedisError, OSError) as exc:
            self._retake = True
            self.redis_trouble(exc)
        return STOP_SENTINEL not in raws

    async def _read_replies(self) -> list[bytes]:
        if self._retake:
            taken = await self.redis.lrange(self.reply_taken, self._taken_handled, -1)
            self._retake = False
            if taken:
                return list(taken)
        item = await self.redis.blmove(
            self.reply_to, self.reply_taken, LISTENER_BLOCK_S, "LEFT", "RIGHT"
        )
        if item is None:
            return []
        more = await self.redis.eval(
            TAKE_REPLIES_LUA, 2, self.reply_to, self.reply_taken, REPLY_DRAIN_MAX,
            keys.REPLY_TTL_S,
        )  # fmt: skip
        return [item, *(more or [])]
