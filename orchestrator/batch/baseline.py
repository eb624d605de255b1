"""Running a batch in baseline mode: one message per task to the monolith queue, one
reply list read by one listener, records and traces stored as in distributed mode.

A node holds several tasks (worker.MONOLITH_TASKS_IN_FLIGHT). One that dies holding
them (SIGKILL, a frozen host) would leave their messages unacked until Redis's
visibility timeout (600 s); while the batch runs, baseline_recovery finds them (and a
task lost outright) and puts them back for the other nodes or the node's replacement."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from dicec import keys
from dicec.records import BatchMeta
from dicec.redis_conn import async_client
from dicec.settings import Settings
from orchestrator.batch.baseline_recovery import LostTasks
from orchestrator.batch.lifecycle import run_lifecycle
from orchestrator.batch.monolith import TASK_NAME, MonolithReply, MonolithTask
from orchestrator.batch.runner import BatchSummary, ProgressFn
from orchestrator.batch.store import BatchStore
from orchestrator.batch.task import TaskImages

LISTEN_BLOCK_S = 1


async def run_baseline_batch(
    meta: BatchMeta, settings: Settings, on_task: ProgressFn | None = None
) -> BatchSummary:
    aredis = async_client(settings)
    store = BatchStore(aredis, meta.batch_id)
    reply_to = keys.reply_key(f"baseline-{uuid.uuid4().hex}")
    try:

        async def work(todo: list[int]) -> int:
            await _send(meta, aredis, todo, reply_to)
            waiting = set(todo)

            async def resend(indices: list[int]) -> None:
                await _send(meta, aredis, indices, reply_to)

            lost = LostTasks(settings, meta.batch_id, waiting)
            sweeper = asyncio.create_task(lost.run(resend), name="dicec-lost-tasks")
            try:
                return await _collect(store, reply_to, waiting, settings, on_task)
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

        return await run_lifecycle(store, meta, work)
    finally:
        with contextlib.suppress(RedisError):
            await aredis.delete(reply_to)
        await aredis.aclose()


async def _send(meta: BatchMeta, aredis: Redis, todo: list[int], reply_to: str) -> None:
    """One message per task to the monolith queue (a cancel cannot recall them)."""
    from worker_models.app import app

    images = TaskImages(aredis)
    for index in todo:
        image = await images.load(Path(meta.images_dir) / meta.images[index])
        task = MonolithTask(
            batch_id=meta.batch_id,
            index=index,
            image_name=meta.images[index],
            image_digest=image.dicec_ref.digest,
            reply_to=reply_to,
        )
        # The reply list answers; without the message's own flag (it beats the task's) the
        # node stores a result nobody reads: two Redis round trips between its tasks.
        app.send_task(
            TASK_NAME, args=[task.model_dump()], queue=keys.MONOLITH_QUEUE, ignore_result=True
        )


async def _collect(
    store: BatchStore,
    reply_to: str,
    waiting: set[int],
    settings: Settings,
    on_task: ProgressFn | None,
) -> int:
    ran_now = 0
    idle_deadline = time.monotonic() + settings.task_timeout_s
    while waiting:
        item = await store.redis.blpop([reply_to], timeout=LISTEN_BLOCK_S)
        if item is None:
            if time.monotonic() > idle_deadline:
                break  # no node answered for a whole task timeout: leave the rest to --resume
            continue
        idle_deadline = time.monotonic() + settings.task_timeout_s
        reply = MonolithReply.model_validate_json(item[1])
        for trace in reply.traces:
            store.add_trace(trace)
        await store.flush_traces()
        if reply.record.index in waiting and await store.save_task(reply.record):
            waiting.discard(reply.record.index)
            ran_now += 1
            if on_task:
                on_task(reply.record)
    return ran_now
