"""A batch's state in Redis (layout in dicec.keys): meta, one record per task, traces.

Everything lives in Redis so that a restarted or second orchestrator can carry on.
Task records are written with HSETNX: the first outcome of a task wins, so a task can
never have two results. Traces are buffered and written in pipelines.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from dicec import keys
from dicec.errors import BatchError
from orchestrator.records import BatchMeta, CallTrace, TaskRecord

TRACE_FLUSH_EVERY = 256


class BatchStore:
    def __init__(self, aredis: aioredis.Redis, batch_id: str) -> None:
        self.redis = aredis
        self.batch_id = batch_id
        self._traces: list[CallTrace] = []

    async def save_meta(self, meta: BatchMeta) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.batch_meta_key(self.batch_id), meta.model_dump_json(), ex=keys.BATCH_TTL_S)
        pipe.zadd(keys.batch_index_key(), {self.batch_id: meta.created_at})
        await pipe.execute()

    async def load_meta(self) -> BatchMeta:
        raw = await self.redis.get(keys.batch_meta_key(self.batch_id))
        if raw is None:
            raise BatchError(f"no batch {self.batch_id!r} in Redis (unknown id or expired)")
        return BatchMeta.model_validate_json(raw)

    async def done_indices(self) -> set[int]:
        return {int(k) for k in await self.redis.hkeys(keys.batch_tasks_key(self.batch_id))}

    async def save_task(self, record: TaskRecord) -> bool:
        """Store a task's outcome unless it already has one; True if this one was stored."""
        key = keys.batch_tasks_key(self.batch_id)
        stored = await self.redis.hsetnx(key, str(record.index), record.model_dump_json())
        await self.redis.expire(key, keys.BATCH_TTL_S)
        return bool(stored)

    def add_trace(self, trace: CallTrace) -> bool:
        """Buffer a trace; True when the buffer is due for a flush."""
        self._traces.append(trace)
        return len(self._traces) >= TRACE_FLUSH_EVERY

    async def flush_traces(self) -> None:
        if not self._traces:
            return
        traces, self._traces = self._traces, []
        key = keys.batch_calls_key(self.batch_id)
        pipe = self.redis.pipeline(transaction=False)
        # Keyed by call id: a redelivered call overwrites its trace instead of adding one.
        pipe.hset(key, mapping={t.call_id: t.model_dump_json() for t in traces})
        pipe.expire(key, keys.BATCH_TTL_S)
        await pipe.execute()

    async def load_tasks(self) -> list[TaskRecord]:
        raw = await self.redis.hvals(keys.batch_tasks_key(self.batch_id))
        return sorted((TaskRecord.model_validate_json(r) for r in raw), key=lambda t: t.index)

    async def load_traces(self) -> list[CallTrace]:
        raw = await self.redis.hvals(keys.batch_calls_key(self.batch_id))
        return sorted((CallTrace.model_validate_json(r) for r in raw), key=lambda t: t.queued_at)
