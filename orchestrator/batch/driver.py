"""Driving a whole batch from a process: Redis, dispatcher, runner, summary.

Redis trouble that outlasts `redis_outage_limit_s` stops the run: the batch is marked
interrupted (if Redis takes that write), the summary says why, and `--resume` finishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from redis.exceptions import RedisError

from dicec import keys
from dicec.errors import BatchInterrupted, DicecError
from dicec.records import BatchMeta
from dicec.redis_conn import async_client
from dicec.settings import Settings
from orchestrator.batch.lifecycle import run_lifecycle
from orchestrator.batch.runner import BatchRunner, BatchSummary, ProgressFn, summarize, trace_sink
from orchestrator.batch.store import BatchStore
from orchestrator.dispatch.crops import CropShipper
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.dispatch.redis_health import RedisHealth

# After an interruption: how long the summary may take to read the records.
SUMMARY_TIMEOUT_S = 10.0


async def load_meta(settings: Settings, batch_id: str) -> BatchMeta:
    aredis = async_client(settings)
    try:
        return await BatchStore(aredis, batch_id).load_meta()
    finally:
        await aredis.aclose()


async def run_batch(
    meta: BatchMeta,
    settings: Settings,
    *,
    concurrency: int | None = None,
    on_task: ProgressFn | None = None,
) -> BatchSummary:
    """Run (or resume) a batch in distributed mode and return its summary."""
    aredis = async_client(settings)
    health = RedisHealth(settings.redis_outage_limit_s)
    store = BatchStore(aredis, meta.batch_id, health)
    dispatcher = Dispatcher(settings, aredis, on_trace=trace_sink(store), health=health)
    dispatcher.broker_site = meta.broker_site()
    if meta.remote_functions:
        dispatcher.crops = CropShipper(aredis, set(meta.remote_functions))
    await dispatcher.start()
    started = time.time()
    runner = BatchRunner(settings, store, dispatcher, concurrency, on_task)
    try:
        return await run_lifecycle(store, meta, lambda todo: runner.run(meta, todo), dispatcher)
    except BatchInterrupted as exc:
        return await _interrupted(store, meta, runner, dispatcher, exc, time.time() - started)
    finally:
        await dispatcher.stop()
        await aredis.aclose()


async def _interrupted(
    store: BatchStore,
    meta: BatchMeta,
    runner: BatchRunner,
    dispatcher: Dispatcher,
    exc: BatchInterrupted,
    wall_s: float,
) -> BatchSummary:
    """Mark the batch interrupted (one try: Redis may still refuse it) and summarize."""
    meta.status = "interrupted"
    with contextlib.suppress(RedisError, OSError):
        await store.redis.set(
            keys.batch_meta_key(meta.batch_id), meta.model_dump_json(), ex=keys.BATCH_TTL_S
        )
    store.health.limit_s = SUMMARY_TIMEOUT_S  # reads work on a full Redis; not if it is away
    try:
        summary = await asyncio.wait_for(
            summarize(store, meta, wall_s, runner.ran_now, dispatcher), SUMMARY_TIMEOUT_S
        )
    except (DicecError, TimeoutError):
        summary = BatchSummary(
            batch_id=meta.batch_id, mode=meta.mode, tasks=meta.tasks, ok=0, errors=0,
            missing=meta.tasks, ran_now=runner.ran_now, wall_s=wall_s, tasks_per_s=0.0,
            calls=0, calls_per_s=0.0, dispatch=dict(dispatcher.stats),
        )  # fmt: skip
    summary.interrupted = str(exc)
    return summary
