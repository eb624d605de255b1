"""Driving a whole batch from a process: Redis, dispatcher, runner, summary."""

from __future__ import annotations

from dicec.records import BatchMeta
from dicec.redis_conn import async_client
from dicec.settings import Settings
from orchestrator.batch.lifecycle import run_lifecycle
from orchestrator.batch.runner import BatchRunner, BatchSummary, ProgressFn, trace_sink
from orchestrator.batch.store import BatchStore
from orchestrator.dispatch.crops import CropShipper
from orchestrator.dispatch.dispatcher import Dispatcher


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
    store = BatchStore(aredis, meta.batch_id)
    dispatcher = Dispatcher(settings, aredis, on_trace=trace_sink(store))
    dispatcher.images_at = meta.images_at
    if meta.remote_functions:
        dispatcher.crops = CropShipper(aredis, set(meta.remote_functions))
    await dispatcher.start()
    try:
        runner = BatchRunner(settings, store, dispatcher, concurrency, on_task)
        return await run_lifecycle(store, meta, lambda todo: runner.run(meta, todo), dispatcher)
    finally:
        await dispatcher.stop()
        await aredis.aclose()
