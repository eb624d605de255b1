"""A batch's state in Redis (layout in dicec.keys): meta, one record per task, traces.

Everything lives in Redis so that a restarted or second orchestrator can carry on.
Task records are written with HSETNX: the first outcome of a task wins, so a task can
never have two results. Traces are buffered and written in pipelines.

A Redis restart must not lose a batch: every write waits out a Redis that is away,
stalled or refusing writes (up to the outage limit, then BatchInterrupted) instead of
failing the run, and the store keeps
the records it wrote so that `restore_lost_records` can put them back if the server
came back empty (persistence off).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dicec import keys
from dicec.errors import BatchError
from dicec.records import BatchMeta, CallTrace, TaskRecord
from orchestrator.dispatch.redis_health import Backoff, RedisHealth, trouble_kind

log = logging.getLogger(__name__)

TRACE_FLUSH_EVERY = 256
# ...or after this long: a killed orchestrator loses at most this much of its traces.
TRACE_FLUSH_INTERVAL_S = 1.0
REDIS_OUTAGE_MAX_S = 60.0  # the default limit of a store without a shared health record

T = TypeVar("T")


async def waiting_out_outages(
    what: str,
    operation: Callable[[], Awaitable[T]],
    health: RedisHealth | None = None,
    wrote: bool = False,
) -> T:
    """Run a Redis operation, retrying with back-off while Redis is down, loading, stalled
    or refusing writes (said once per episode, by the health record). Past the health
    record's limit: BatchInterrupted. Only for idempotent operations."""
    health = health or RedisHealth(REDIS_OUTAGE_MAX_S)
    backoff = Backoff()
    while True:
        try:
            result = await operation()
        except (RedisError, OSError) as exc:
            if trouble_kind(exc) is None:
                raise
            if health.trouble(exc):
                raise health.interruption() from None
            log.debug("Redis trouble while %s (%s); retrying", what, exc)
            await asyncio.sleep(backoff.next())  # Redis away or full: wait, then retry
            continue
        health.ok(wrote=wrote)
        return result


class BatchStore:
    def __init__(
        self, aredis: aioredis.Redis, batch_id: str, health: RedisHealth | None = None
    ) -> None:
        self.redis = aredis
        self.batch_id = batch_id
        self.health = health or RedisHealth(REDIS_OUTAGE_MAX_S)
        self._traces: list[CallTrace] = []
        self._written: dict[int, str] = {}  # task index -> the record JSON this run stored
        self.traces_written = 0
        self._last_flush = time.monotonic()
        self._cancelled = False
        self._cancel_read_at = -math.inf

    async def save_meta(self, meta: BatchMeta) -> None:
        async def write() -> None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(
                keys.batch_meta_key(self.batch_id), meta.model_dump_json(), ex=keys.BATCH_TTL_S
            )
            pipe.zadd(keys.batch_index_key(), {self.batch_id: meta.created_at})
            await pipe.execute()

        await waiting_out_outages("saving the batch's metadata", write, self.health, True)

    async def load_meta(self) -> BatchMeta:
        key = keys.batch_meta_key(self.batch_id)
        raw = await waiting_out_outages(
            "loading the batch", lambda: self.redis.get(key), self.health
        )
        if raw is None:
            raise BatchError(f"no batch {self.batch_id!r} in Redis (unknown id or expired)")
        return BatchMeta.model_validate_json(raw)

    async def done_indices(self) -> set[int]:
        key = keys.batch_tasks_key(self.batch_id)
        done = await waiting_out_outages(
            "reading finished tasks", lambda: self.redis.hkeys(key), self.health
        )
        return {int(k) for k in done}

    async def save_task(self, record: TaskRecord) -> bool:
        """Store a task's outcome unless it already has one; True if this one was stored."""
        key, field = keys.batch_tasks_key(self.batch_id), str(record.index)
        value = record.model_dump_json()

        async def write() -> bool:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hsetnx(key, field, value)
            pipe.expire(key, keys.BATCH_TTL_S)
            pipe.hget(key, field)
            stored, _, current = await pipe.execute()
            # A retry after a write whose reply was lost finds its own record: still ours.
            return bool(stored) or current == value.encode()

        ours = await waiting_out_outages(f"saving task {record.index}", write, self.health, True)
        if ours:
            self._written[record.index] = value
        return ours

    async def restore_lost_records(self) -> int:
        """Write back the records this run stored that Redis no longer has (a restart
        without persistence); how many were restored."""
        done = await self.done_indices()
        lost = {i: v for i, v in self._written.items() if i not in done}
        if not lost:
            return 0
        key = keys.batch_tasks_key(self.batch_id)
        log.warning("Redis lost %d task record(s) of this run; writing them back", len(lost))

        async def write() -> None:
            pipe = self.redis.pipeline(transaction=False)
            for index, value in lost.items():
                pipe.hsetnx(key, str(index), value)
            pipe.expire(key, keys.BATCH_TTL_S)
            await pipe.execute()

        await waiting_out_outages("restoring lost task records", write, self.health, True)
        return len(lost)

    def add_trace(self, trace: CallTrace) -> bool:
        """Buffer a trace; True when the buffer is due for a flush."""
        self._traces.append(trace)
        return (
            len(self._traces) >= TRACE_FLUSH_EVERY
            or time.monotonic() - self._last_flush >= TRACE_FLUSH_INTERVAL_S
        )

    async def flush_traces(self) -> None:
        if not self._traces:
            return
        traces, self._traces = self._traces, []
        self._last_flush = time.monotonic()
        key = keys.batch_calls_key(self.batch_id)
        # Keyed by call id: a redelivered call overwrites its trace instead of adding one.
        mapping = {t.call_id: t.model_dump_json() for t in traces}

        async def write() -> None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, keys.BATCH_TTL_S)
            await pipe.execute()

        try:
            await waiting_out_outages("saving call traces", write, self.health, True)
        except BaseException:
            self._traces[:0] = traces  # kept for the next flush
            raise
        self.traces_written += len(mapping)

    async def request_cancel(self) -> None:
        """Stop dispatching this batch's tasks (in-flight ones finish); resumable."""
        key = keys.batch_cancel_key(self.batch_id)
        await waiting_out_outages("cancelling", lambda: self.redis.set(key, 1, ex=keys.BATCH_TTL_S))

    async def cancel_requested(self, max_age_s: float = 0.0) -> bool:
        """Has `dicec batch cancel` asked this batch to stop? With `max_age_s`, a reading
        that recent answers instead of Redis: each task's lane asks before every task,
        and an EXISTS per task was 8 % of the orchestrator's loop (cProfile, 300 tasks).
        A cancel, once read, stays read."""
        now = time.monotonic()
        if self._cancelled or now - self._cancel_read_at < max_age_s:
            return self._cancelled
        key = keys.batch_cancel_key(self.batch_id)
        self._cancelled = bool(
            await waiting_out_outages("reading the cancel flag", lambda: self.redis.exists(key))
        )
        self._cancel_read_at = now
        return self._cancelled

    async def clear_cancel(self) -> None:
        key = keys.batch_cancel_key(self.batch_id)
        await waiting_out_outages("clearing the cancel flag", lambda: self.redis.delete(key))
        self._cancelled, self._cancel_read_at = False, -math.inf  # forget a cancel read before

    async def drop_failed(self) -> list[int]:
        """Forget the records of the failed tasks so that a resume runs exactly those."""
        failed = [r.index for r in await self.load_tasks() if r.status == "error"]
        if failed:
            key = keys.batch_tasks_key(self.batch_id)
            fields = [str(i) for i in failed]
            await waiting_out_outages(
                "dropping failed tasks", lambda: self.redis.hdel(key, *fields)
            )
        return failed

    async def load_tasks(self) -> list[TaskRecord]:
        key = keys.batch_tasks_key(self.batch_id)
        raw = await waiting_out_outages(
            "loading task records", lambda: self.redis.hvals(key), self.health
        )
        return sorted((TaskRecord.model_validate_json(r) for r in raw), key=lambda t: t.index)

    async def load_traces(self) -> list[CallTrace]:
        key = keys.batch_calls_key(self.batch_id)
        raw = await waiting_out_outages(
            "loading call traces", lambda: self.redis.hvals(key), self.health
        )
        return sorted((CallTrace.model_validate_json(r) for r in raw), key=lambda t: t.queued_at)
