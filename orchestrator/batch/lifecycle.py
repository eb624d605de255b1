"""The one lifecycle of a batch, whatever runs its tasks (distributed or baseline):

    running -> the tasks without a record (todo) -> work(todo) -> finished | cancelled -> summary

A cancel (`dicec batch cancel`) stops the work from starting new tasks; the batch ends
`cancelled` and `--resume` runs the rest. A resume clears the cancel first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from dicec.records import BatchMeta
from orchestrator.batch.runner import BatchSummary, summarize
from orchestrator.batch.store import BatchStore
from orchestrator.dispatch.dispatcher import Dispatcher

# work(todo) runs the given task indices and returns how many it stored.
Work = Callable[[list[int]], Awaitable[int]]


async def run_lifecycle(
    store: BatchStore, meta: BatchMeta, work: Work, dispatcher: Dispatcher | None = None
) -> BatchSummary:
    await store.clear_cancel()
    meta.status, meta.finished_at = "running", None
    await store.save_meta(meta)
    done = await store.done_indices()
    todo = [i for i in range(meta.tasks) if i not in done]
    started = time.time()
    ran_now = await work(todo)
    wall_s = time.time() - started
    complete = len(await store.done_indices()) >= meta.tasks
    cancelled = not complete and await store.cancel_requested()
    meta.status = "cancelled" if cancelled else "finished"
    meta.finished_at = time.time()
    await store.save_meta(meta)
    return await summarize(store, meta, wall_s, ran_now, dispatcher)
