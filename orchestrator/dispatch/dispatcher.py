"""The orchestrator's side of every call: send as Celery groups, resolve from one listener.

One Dispatcher per orchestrator process. Calls made in the same event-loop turn (what
`asyncio.gather` produces) are flushed together: one Celery group whose messages carry
all calls to the same function at once. One reply list per process, read by one
listener task with BLPOP, resolves the futures of every call in flight — thousands of
calls never mean thousands of connections or threads. A call without a reply in time is
resent; the first reply wins and later duplicates are dropped by call id.

Faults cost seconds, not tasks (docs/reliability.md): the listener survives every Redis
error (retried with back-off, supervised, restarted if it ever exits); sends that Redis
refuses or cannot take are held and retried, dispatch paused, without counting as
attempts; call timers do not run out while Redis is away; the watchdog
(orchestrator/dispatch/watchdog.py) resends everything in flight at once when Redis
comes back empty and restores the messages of dead workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from celery import group
from redis.exceptions import RedisError

from dicec import keys
from dicec.errors import (
    BatchInterrupted,
    CallFailedError,
    CallTimeoutError,
    ImageNotFoundError,
    WireFormatError,
)
from dicec.records import CallTrace
from dicec.settings import Settings
from orchestrator.dispatch.crops import CropShipper
from orchestrator.dispatch.fairness import FairGate, TaskKey
from orchestrator.dispatch.recovery import Recovery
from orchestrator.dispatch.redis_health import Backoff, RedisHealth
from orchestrator.dispatch.replies import STOP_SENTINEL, ReplyListener
from orchestrator.dispatch.traces import emit_traces
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result
from worker_models.imageref import ImageRef
from worker_models.pools import DEFAULT_SITE
from worker_models.wire import CallReply, CallRequest, call_message, decode_reply

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
MAX_BACKOFF_DOUBLINGS = 3  # the 4th and later resends wait 8 call timeouts


@dataclass
class InFlight:
    request: CallRequest
    prepared: PreparedCall
    origin: CallOrigin
    futures: list[asyncio.Future[Any]]
    queued_at: float
    group_id: str | None = None
    attempts: int = 1
    timer: asyncio.TimerHandle | None = None
    sent_at: float = 0.0  # event-loop time of its last send
    followers: list[tuple[str, CallOrigin, float]] = field(default_factory=list)
    restore_images: bool = False  # resent: store its images again on the way
    missing_since: float | None = None  # loop time it was first seen in no queue
    content: str = ""  # its function and parameters as text: identical calls share it


TraceSink = Callable[[CallTrace], None]
# Stores a batch image (by content digest) in Redis again; False if it knows no such image.
ImageRestorer = Callable[[str], Awaitable[bool]]


def _task_of(inflight: InFlight) -> TaskKey:
    return inflight.origin.batch_id, inflight.origin.task_index


def _wanted(inflight: InFlight) -> bool:
    """Someone still waits for the call (a cancelled task's waiting calls are dropped)."""
    return any(not f.done() for f in inflight.futures)


def _image_digests(inflight: InFlight) -> set[str]:
    """Content digests of the images a call refers to."""
    digests = set()
    for name in inflight.prepared.spec.image_params():
        value = inflight.prepared.params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(WireFormatError):
                digests.add(ImageRef.parse(value).digest)
    return digests


class Dispatcher(ReplyListener, Recovery):
    def __init__(
        self,
        settings: Settings,
        aredis: aioredis.Redis,
        on_trace: TraceSink | None = None,
        dedupe: bool | None = None,
        health: RedisHealth | None = None,
    ) -> None:
        self.settings = settings
        self.redis = aredis
        self.health = health or RedisHealth(settings.redis_outage_limit_s)
        self.client_id = uuid.uuid4().hex
        self.reply_to = keys.reply_key(self.client_id)
        self.reply_taken = keys.reply_taken_key(self.client_id)
        self._retake = False  # after a Redis error: handle the taken list again first
        self._taken_handled = 0  # replies at the head of the taken list already handled
        self.marker_key = keys.dispatcher_marker_key(self.client_id)
        self.run_id: str | None = None  # Redis's run id: it changes when Redis restarts
        self.on_trace = on_trace
        self.restore_image: ImageRestorer | None = None  # set by the batch runner
        self.broker_site = DEFAULT_SITE  # where Redis is, so the images (set by the runner)
        self.crops: CropShipper | None = None  # set when some functions are served remotely
        self.dedupe = settings.cache_enabled if dedupe is None else dedupe
        self._pending: dict[str, InFlight] = {}
        self._by_content: dict[str, str] = {}  # content key -> call id in flight
        self._distinct: set[bytes] = set()  # digests of every content key seen
        self._outbox: list[InFlight] = []
        self._flush_scheduled = False
        # Calls over a task's or this batch's share of a queue wait here (fairness.py).
        self.fair: FairGate[InFlight] = FairGate(
            settings.fair_task_calls_per_queue, settings.fair_batch_calls_per_queue, _wanted
        )
        self._stored_images: set[str] = set()
        self._listener: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stopping = False
        self._held: list[InFlight] = []  # not sent: Redis away or refusing writes
        self._paused = False
        self._send_backoff = Backoff()
        self._listen_backoff = Backoff()
        self.interrupted = asyncio.Event()  # set when Redis trouble outlasted its limit
        self.interruption: BatchInterrupted | None = None
        # function -> (loop time of its last reply, latest send time among answered calls)
        self._progress: dict[str, tuple[float, float]] = {}
        self.stats = {
            "sent": 0,
            "messages": 0,
            "replies": 0,
            "duplicates": 0,
            "resent": 0,
            "waited": 0,
            "send_failures": 0,
            "shared": 0,
            "distinct": 0,
            "waited_on_redis": 0,
            "redis_lost": 0,
            "restored": 0,
            "found_missing": 0,
            "purged": 0,
            "listener_restarts": 0,
            "held_for_fairness": 0,
        }

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        from orchestrator.dispatch.watchdog import Watchdog

        with contextlib.suppress(RedisError, OSError):  # Redis away: the watchdog retries
            await self._mark()
        self._start_listener()
        self._watchdog = asyncio.create_task(
            Watchdog(self, self.settings).run(), name="dicec-dispatch-watchdog"
        )

    async def stop(self) -> None:
        """Stop the listener by waking it with a sentinel (cancelling a BLPOP mid-read can
        leave redis-py's connection waiting forever); remove what is left of our calls."""
        self._stopping = True
        if self._watchdog:
            self._watchdog.cancel()
        if self._listener:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.rpush(self.reply_to, STOP_SENTINEL)
            done, _ = await asyncio.wait({self._listener}, timeout=STOP_TIMEOUT_S)
            if not done:
                self._listener.cancel()
        for inflight in list(self._pending.values()):
            if inflight.timer:
                inflight.timer.cancel()
        await self._purge_leftovers()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self.reply_to, self.reply_taken, self.marker_key)

    @property
    def in_flight(self) -> int:
        """Calls sent and not yet answered (the watchdog sleeps while there are none)."""
        return len(self._pending)

    # -- calls ---------------------------------------------------------------------------
    async def call(self, prepared: PreparedCall, origin: CallOrigin) -> tuple[str, Any]:
        """Send one call (in the next flush) and wait for its validated result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        request = prepared.request(self.reply_to, origin.batch_id, self.settings.cache_enabled)
        content = self._content_key(prepared)
        self._count_distinct(content)
        leader = self._pending.get(self._by_content.get(content, "")) if self.dedupe else None
        if leader is not None:
            # The same call is already in flight: share its execution.
            leader.futures.append(future)
            leader.followers.append((request.call_id, origin, time.time()))
            self.stats["shared"] += 1
        else:
            inflight = InFlight(request, prepared, origin, [future], time.time(), content=content)
            if self.fair.admit(keys.queue_for(prepared.spec.name), _task_of(inflight), inflight):
                self._enqueue(inflight)
            else:
                self.stats["held_for_fairness"] += 1
        reply: CallReply = await future
        if not reply.ok:
            raise CallFailedError(f"{prepared.spec.name} failed: {reply.error_type}: {reply.error}")
        return request.call_id, check_result(prepared.spec, reply.result)

    def _enqueue(self, inflight: InFlight) -> None:
        """In flight from now on: sent in the next flush (a waiting call is not yet in
        flight: no timer, no recovery, not shared by identical calls)."""
        self._pending[inflight.request.call_id] = inflight
        if self.dedupe:
            self._by_content[inflight.content] = inflight.request.call_id
        self._outbox.append(inflight)
        self._schedule_flush()

    def _count_distinct(self, content: str) -> None:
        """Distinct calls seen (what a perfect memo computes), cache on or off."""
        self._distinct.add(hashlib.blake2b(content.encode(), digest_size=16).digest())
        self.stats["distinct"] = len(self._distinct)

    @staticmethod
    def _content_key(prepared: PreparedCall) -> str:
        return prepared.spec.name + json.dumps(prepared.params, sort_keys=True, default=str)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))

    async def _flush(self) -> None:
        batch, self._outbox, self._flush_scheduled = self._outbox, [], False
        if not batch:
            return
        if self._paused:
            self._held.extend(batch)  # a retry is scheduled
            return
        try:
            if self.crops is not None:
                for inflight in batch:
                    await self.crops.prepare(inflight.prepared, inflight.request.params)
            await self._store_images(batch)
            self._send(batch)
        except Exception as exc:  # noqa: BLE001 - Redis/broker trouble: hold, never fail
            self._pause(batch, exc)
            return
        self._send_backoff.reset()
        if self.health.ok(wrote=True):
            self._redis_back()

    def _pause(self, batch: list[InFlight], exc: BaseException) -> None:
        """Redis cannot take the calls (away, full, read-only): hold them and retry after a
        back-off (0.25 s doubling to 4 s). Not counted as attempts: the program's calls
        wait for Redis, they do not fail because of it."""
        self.stats["send_failures"] += len(batch)
        self._held.extend(batch)
        if self.health.trouble(exc):
            self._interrupt()
            return
        if not self._paused:
            self._paused = True
            asyncio.get_running_loop().call_later(self._send_backoff.next(), self._unpause)

    def _unpause(self) -> None:
        self._paused = False
        if self._held:
            self._outbox[:0], self._held = self._held, []
            self._schedule_flush()

    def _interrupt(self) -> None:
        if self.interruption is None:
            self.interruption = self.health.interruption()
            self.interrupted.set()

    async def _store_images(self, batch: list[InFlight]) -> None:
        # A resent call stores its images again (SET NX: free if they are still there):
        # a Redis that restarted without persistence has lost them.
        uploads = {
            d: b
            for inf in batch
            for d, b in inf.prepared.uploads.items()
            if d not in self._stored_images or inf.restore_images
        }
        if self.restore_image is not None:
            resent = {d for inf in batch if inf.restore_images for d in _image_digests(inf)}
            for digest in resent - uploads.keys():
                await self.restore_image(digest)
        if not uploads:
            return
        pipe = self.redis.pipeline(transaction=False)
        for digest, data in uploads.items():
            pipe.set(keys.image_key(digest), data, ex=keys.IMAGE_TTL_S, nx=True)
        await pipe.execute()
        self._stored_images.update(uploads)

    def _send(self, batch: list[InFlight]) -> None:
        from worker_models.app import app

        group_id = uuid.uuid4().hex
        by_function: dict[str, list[InFlight]] = {}
        for inflight in batch:
            inflight.group_id = inflight.group_id or group_id
            by_function.setdefault(inflight.prepared.spec.name, []).append(inflight)
        signatures = [
            app.signature(
                keys.task_name_for(fn),
                immutable=True,
                **call_message(fn, [i.request for i in items]),
            )
            for fn, items in by_function.items()
        ]
        # Replies come back on our reply lists, never through Celery's result backend.
        # Without ignore_result on each message (its own flag overrides the task's) every
        # call writes a result nobody reads, two more Redis round trips per message
        # (docs/edge-cloud.md); on the group it spares a result subscription and cancel.
        group(signatures).apply_async(ignore_result=True)  # raises when Redis cannot take it
        now = asyncio.get_running_loop().time()
        for inflight in batch:
            inflight.sent_at = now
            self._arm(inflight)
        self.stats["sent"] += len(batch)
        self.stats["messages"] += len(signatures)

    def _timeout_s(self, inflight: InFlight) -> float:
        """The call timeout, doubled per resend (capped): a machine too loaded to answer
        in time is not made busier by resending the same calls ever faster."""
        return self.settings.call_timeout_s * 2 ** min(inflight.attempts - 1, MAX_BACKOFF_DOUBLINGS)

    def _arm(self, inflight: InFlight) -> None:
        """(Re)start the call's timer: one timeout of its current attempt from now."""
        inflight.timer = asyncio.get_running_loop().call_later(
            self._timeout_s(inflight), self._expired, inflight.request.call_id
        )

    def _queued_behind_others(self, inflight: InFlight) -> bool:
        """Is the call most likely still queued, behind older calls of its function?

        Redis queues are FIFO: while replies for the function keep arriving (one within
        the last call timeout) and every answered call was sent no later than this one,
        the queue is moving toward it. Resending it then would only lengthen the queue
        (a resend storm under load). A call that newer calls have overtaken, or whose
        function made no progress for a whole timeout, is lost or stuck: resend it.
        """
        last_reply, newest_answered = self._progress.get(
            inflight.prepared.spec.name, (float("-inf"), float("-inf"))
        )
        recent = asyncio.get_running_loop().time() - last_reply < self.settings.call_timeout_s
        return recent and newest_answered <= inflight.sent_at

    def _expired(self, call_id: str) -> None:
        inflight = self._pending.get(call_id)
        if inflight is None:
            return
        if self.health.down:  # its reply may be waiting behind the outage: not its fault
            self.stats["waited_on_redis"] += 1
            inflight.timer = asyncio.get_running_loop().call_later(
                self.settings.call_timeout_s, self._expired, call_id
            )
            return
        if inflight.sent_at and self._queued_behind_others(inflight):
            self.stats["waited"] += 1
            self._arm(inflight)
            return
        if inflight.attempts > self.settings.call_max_resends:
            self._fail(
                inflight,
                f"no reply after {inflight.attempts} attempts (call timeout "
                f"{self.settings.call_timeout_s:.0f} s, doubled on each resend)",
                timeout=True,
            )
            return
        log.warning(
            "call %s (%s) got no reply in time; resending", call_id, inflight.prepared.spec.name
        )
        self._resend(inflight)

    def _resend(self, inflight: InFlight, counted: bool = True) -> None:
        """Send the call again, same call id (its first reply wins); its images are stored
        again on the way (see _store_images). `counted`: an attempt of its own (a timeout)
        rather than a resend because Redis lost it."""
        if inflight.timer:
            inflight.timer.cancel()
        inflight.attempts += counted
        inflight.restore_images = True
        self.stats["resent"] += 1
        self._outbox.append(inflight)
        self._schedule_flush()

    def _fail(self, inflight: InFlight, message: str, timeout: bool = False) -> None:
        self._forget(inflight)
        error = CallTimeoutError if timeout else CallFailedError
        exc = error(f"{inflight.prepared.spec.name}: {message}")
        for future in inflight.futures:
            if not future.done():
                future.set_exception(exc)
        self._trace(inflight, None, error=str(exc))

    def _forget(self, inflight: InFlight) -> None:
        if self._pending.pop(inflight.request.call_id, None) is not None:
            queue = keys.queue_for(inflight.prepared.spec.name)
            for _, released in self.fair.done(queue, _task_of(inflight)):
                self._enqueue(released)
        if inflight.timer:
            inflight.timer.cancel()
        if self.dedupe and self._by_content.get(inflight.content) == inflight.request.call_id:
            del self._by_content[inflight.content]

    # -- replies -------------------------------------------------------------------------
    def _on_reply(self, raw: bytes) -> None:
        try:
            reply = decode_reply(raw)
        except Exception as exc:  # noqa: BLE001 - a bad reply must not stop the listener
            log.error("dropping undecodable reply: %s", exc)
            return
        inflight = self._pending.get(reply.call_id)
        if inflight is None:
            self.stats["duplicates"] += 1
            return
        if (
            not reply.ok
            and reply.error_type == ImageNotFoundError.__name__
            and inflight.attempts <= self.settings.call_max_resends
        ):
            # Redis lost the call's image (a restart without persistence, or expiry):
            # the resend stores it again. Not the program's fault: it must not see this.
            log.warning("call %s: its image was gone from Redis; resending", reply.call_id)
            self._resend(inflight)
            return
        self.stats["replies"] += 1
        self._note_progress(inflight)
        self._forget(inflight)
        for future in inflight.futures:
            if not future.done():
                future.set_result(reply)
        self._trace(inflight, reply)

    def _note_progress(self, inflight: InFlight) -> None:
        function = inflight.prepared.spec.name
        _, newest = self._progress.get(function, (0.0, 0.0))
        now = asyncio.get_running_loop().time()
        self._progress[function] = (now, max(newest, inflight.sent_at))

    def _trace(self, inflight: InFlight, reply: CallReply | None, error: str | None = None) -> None:
        if self.on_trace is not None:
            emit_traces(self.on_trace, inflight, reply, error, self.broker_site)
