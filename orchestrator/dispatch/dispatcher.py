"""The orchestrator's side of every call: send as Celery groups, resolve from one listener.

One Dispatcher per orchestrator process. Calls made in the same event-loop turn (what
`asyncio.gather` produces) are flushed together: one Celery group whose messages carry
all calls to the same function at once. One reply list per process, read by one
listener task with BLPOP, resolves the futures of every call in flight — thousands of
calls never mean thousands of connections or threads. A call without a reply in time is
resent; the first reply wins and later duplicates are dropped by call id.
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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from dicec import keys
from dicec.errors import CallFailedError, CallTimeoutError, ImageNotFoundError, WireFormatError
from dicec.records import CallTrace
from dicec.settings import Settings
from orchestrator.dispatch.crops import CropShipper
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result
from worker_models.imageref import ImageRef
from worker_models.pools import DEFAULT_SITE
from worker_models.wire import CallReply, CallRequest, decode_reply

log = logging.getLogger(__name__)

REPLY_DRAIN_MAX = 500
LISTENER_BLOCK_S = 1
RECONNECT_DELAY_S = 0.5
STOP_TIMEOUT_S = 5.0
STOP_SENTINEL = b"__dicec_stop__"
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


TraceSink = Callable[[CallTrace], None]
# Stores a batch image (by content digest) in Redis again; False if it knows no such image.
ImageRestorer = Callable[[str], Awaitable[bool]]


def _image_digests(inflight: InFlight) -> set[str]:
    """Content digests of the images a call refers to."""
    digests = set()
    for name in inflight.prepared.spec.image_params():
        value = inflight.prepared.params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(WireFormatError):
                digests.add(ImageRef.parse(value).digest)
    return digests


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        aredis: aioredis.Redis,
        on_trace: TraceSink | None = None,
        dedupe: bool | None = None,
    ) -> None:
        self.settings = settings
        self.redis = aredis
        self.client_id = uuid.uuid4().hex
        self.reply_to = keys.reply_key(self.client_id)
        self.on_trace = on_trace
        self.restore_image: ImageRestorer | None = None  # set by the batch runner
        self.images_at = DEFAULT_SITE  # where the batch's images are (set by the runner)
        self.crops: CropShipper | None = None  # set when some functions are served remotely
        self.dedupe = settings.cache_enabled if dedupe is None else dedupe
        self._pending: dict[str, InFlight] = {}
        self._by_content: dict[str, str] = {}  # content key -> call id in flight
        self._distinct: set[bytes] = set()  # digests of every content key seen
        self._outbox: list[InFlight] = []
        self._flush_scheduled = False
        self._stored_images: set[str] = set()
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
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
        }

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="dicec-reply-listener")

    async def stop(self) -> None:
        """Stop the listener by waking it with a sentinel (cancelling a BLPOP mid-read can
        leave redis-py's connection waiting forever)."""
        if self._listener:
            self._stopping = True
            with contextlib.suppress(RedisError):
                await self.redis.rpush(self.reply_to, STOP_SENTINEL)
            done, _ = await asyncio.wait({self._listener}, timeout=STOP_TIMEOUT_S)
            if not done:
                self._listener.cancel()
        for inflight in list(self._pending.values()):
            if inflight.timer:
                inflight.timer.cancel()
        with contextlib.suppress(RedisError):
            await self.redis.delete(self.reply_to)

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
            inflight = InFlight(request, prepared, origin, [future], time.time())
            self._pending[request.call_id] = inflight
            if self.dedupe:
                self._by_content[content] = request.call_id
            self._outbox.append(inflight)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        reply: CallReply = await future
        if not reply.ok:
            raise CallFailedError(f"{prepared.spec.name} failed: {reply.error_type}: {reply.error}")
        return request.call_id, check_result(prepared.spec, reply.result)

    def _count_distinct(self, content: str) -> None:
        """Distinct calls seen (what a perfect memo computes), cache on or off."""
        self._distinct.add(hashlib.blake2b(content.encode(), digest_size=16).digest())
        self.stats["distinct"] = len(self._distinct)

    @staticmethod
    def _content_key(prepared: PreparedCall) -> str:
        return prepared.spec.name + json.dumps(prepared.params, sort_keys=True, default=str)

    async def _flush(self) -> None:
        batch, self._outbox, self._flush_scheduled = self._outbox, [], False
        if not batch:
            return
        try:
            if self.crops is not None:
                for inflight in batch:
                    await self.crops.prepare(inflight.prepared, inflight.request.params)
            await self._store_images(batch)
        except RedisError as exc:
            self._retry_later(batch, f"could not store the calls' images: {exc}")
            return
        self._send(batch)

    async def _store_images(self, batch: list[InFlight]) -> None:
        # A resent call stores its images again (SET NX: free if they are still there):
        # a Redis that restarted without persistence has lost them.
        uploads = {
            d: b
            for inf in batch
            for d, b in inf.prepared.uploads.items()
            if d not in self._stored_images or inf.attempts > 1
        }
        if self.restore_image is not None:
            resent = {d for inf in batch if inf.attempts > 1 for d in _image_digests(inf)}
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
                args=[[i.request.model_dump() for i in items]],
                queue=keys.queue_for(fn),
                immutable=True,
            )
            for fn, items in by_function.items()
        ]
        try:
            group(signatures).apply_async()
        except Exception as exc:  # noqa: BLE001 - broker down: retry later, not the loop
            self._retry_later(batch, f"could not send the calls to their queues: {exc}")
            return
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

    def _retry_later(self, batch: list[InFlight], problem: str) -> None:
        """Redis unreachable while sending: the calls wait one call timeout and are resent
        (counted as attempts), instead of failing their tasks at the first hiccup."""
        log.warning("%s; %d call(s) will be resent", problem, len(batch))
        self.stats["send_failures"] += len(batch)
        for inflight in batch:
            self._arm(inflight)

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

    def _resend(self, inflight: InFlight) -> None:
        """Send the call again, same call id (its first reply wins); its images are stored
        again on the way (see _store_images)."""
        if inflight.timer:
            inflight.timer.cancel()
        inflight.attempts += 1
        self.stats["resent"] += 1
        self._outbox.append(inflight)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.ensure_future(self._flush())

    def _fail(self, inflight: InFlight, message: str, timeout: bool = False) -> None:
        self._forget(inflight)
        error = CallTimeoutError if timeout else CallFailedError
        exc = error(f"{inflight.prepared.spec.name}: {message}")
        for future in inflight.futures:
            if not future.done():
                future.set_exception(exc)
        self._trace(inflight, None, error=str(exc))

    def _forget(self, inflight: InFlight) -> None:
        self._pending.pop(inflight.request.call_id, None)
        if inflight.timer:
            inflight.timer.cancel()
        if self.dedupe:
            content = self._content_key(inflight.prepared)
            if self._by_content.get(content) == inflight.request.call_id:
                del self._by_content[content]

    # -- replies -------------------------------------------------------------------------
    async def _listen(self) -> None:
        while not self._stopping:
            try:
                item = await self.redis.blpop([self.reply_to], timeout=LISTENER_BLOCK_S)
                if item is None:
                    continue
                raws = [item[1]]
                more = await self.redis.lpop(self.reply_to, REPLY_DRAIN_MAX)
                raws.extend(more or [])
            except (RedisConnectionError, OSError) as exc:
                log.warning("reply listener lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_DELAY_S)  # back-off before reconnecting
                continue
            for raw in raws:
                if raw == STOP_SENTINEL:
                    return
                self._on_reply(raw)

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

    def _reply_fields(self, reply: CallReply) -> dict[str, Any]:
        return dict(
            pool=reply.pool,
            worker=reply.worker,
            started_at=reply.started_at,
            finished_at=reply.finished_at,
            batch_size=reply.batch_size,
            cached=reply.cached,
            ok=reply.ok,
            error=reply.error,
            site=reply.site,
            image_bytes=reply.image_bytes,
            transfer_bytes=self._shipped(reply),
        )

    def _shipped(self, reply: CallReply) -> int:
        """Bytes that crossed a link to this call: the image bytes its worker read, if it
        is at another site than the images."""
        if reply.site is None or reply.site == self.images_at:
            return 0
        return reply.fetched_bytes

    def _trace(self, inflight: InFlight, reply: CallReply | None, error: str | None = None) -> None:
        if self.on_trace is None:
            return
        now = time.time()
        base = dict(
            function=inflight.prepared.spec.name,
            group_id=inflight.group_id,
            replied_at=now,
            attempts=inflight.attempts,
        )
        if reply is not None:
            base.update(self._reply_fields(reply))
        else:
            base.update(ok=False, error=error)
        origin = inflight.origin
        self.on_trace(
            CallTrace(
                call_id=inflight.request.call_id,
                batch_id=origin.batch_id,
                task_index=origin.task_index,
                chain_parent=origin.chain_parent,
                queued_at=inflight.queued_at,
                **base,
            )
        )
        for call_id, follower, queued_at in inflight.followers:
            self.on_trace(
                CallTrace(
                    call_id=call_id,
                    batch_id=follower.batch_id,
                    task_index=follower.task_index,
                    chain_parent=follower.chain_parent,
                    queued_at=queued_at,
                    **{
                        **base,
                        "cached": True,
                        "pool": None,
                        "worker": None,
                        "started_at": None,
                        "finished_at": None,
                        "transfer_bytes": 0,
                    },
                )
            )
