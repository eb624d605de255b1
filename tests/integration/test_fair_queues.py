"""Fair sharing of a queue through a real noop worker: a task that floods a queue with
calls delays another task's calls by a bounded amount (about its share of the queue),
not by the whole flood. The rule: docs/security.md, "Fair sharing of queues"."""

from __future__ import annotations

import asyncio
import time

from dicec.redis_conn import async_client
from dicec.settings import get_settings
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.program.hermod import Hermod

FLOOD_CALLS = 300
SLEEP_MS = 10  # each call: the flood holds the two noop processes for at least 1.5 s
NOOP_PROCESSES = 2  # the test pools serve noop in two single-process pools
PER_TASK = 8  # the flood's share: at most this many of its calls ahead of another's
NORMAL_CALLS = 3


async def _timed_calls(hermod: Hermod) -> list[float]:
    """NORMAL_CALLS noop calls one after another: each one's latency, seconds."""
    latencies = []
    for i in range(NORMAL_CALLS):
        sent = time.perf_counter()
        assert await hermod.call("noop", value=i, sleep_ms=SLEEP_MS) == {"value": i}
        latencies.append(time.perf_counter() - sent)
    return latencies


async def _flood_and_normal() -> tuple[float, list[float], int]:
    """Seconds the flood took, each normal call's latency, calls the gate held."""
    update = {"cache_enabled": False, "fair_task_calls_per_queue": PER_TASK}
    settings = get_settings().model_copy(update=update)
    aredis = async_client(settings)
    dispatcher = Dispatcher(settings, aredis)
    await dispatcher.start()
    flood, normal = Hermod(dispatcher, "fair", 0), Hermod(dispatcher, "fair", 1)
    try:
        await normal.call("noop", value=-1)  # the worker is warm before anything is timed
        start = time.perf_counter()
        flooding = asyncio.gather(
            *(flood.call("noop", value=i, sleep_ms=SLEEP_MS) for i in range(FLOOD_CALLS))
        )
        await asyncio.sleep(0.2)  # the flood reaches the queue first
        latencies = await _timed_calls(normal)
        assert await flooding == [{"value": i} for i in range(FLOOD_CALLS)]
        return time.perf_counter() - start, latencies, dispatcher.stats["held_for_fairness"]
    finally:
        await dispatcher.stop()
        await aredis.aclose()


def test_a_flooding_task_delays_another_tasks_calls_by_its_share_only(pools):
    flood_s, latencies, held = asyncio.run(_flood_and_normal())
    assert held == FLOOD_CALLS - PER_TASK  # every flood call past its share waited
    assert flood_s >= FLOOD_CALLS * SLEEP_MS / 1000 / NOOP_PROCESSES
    # Behind at most the flood's share (in flight, maybe a message reserved by a worker
    # too): PER_TASK calls of 10 ms, twice, and slack for a loaded machine. Without the
    # gate a normal call waits for most of the flood (5.6 s of 5.8 s seen with 500 calls).
    bound_s = 2 * PER_TASK * SLEEP_MS / 1000 + 0.5
    assert max(latencies) < bound_s < flood_s / 2, (latencies, flood_s)


PER_BATCH = 16  # the flooding batch's share of the queue, whatever its tasks do
FLOOD_TASKS = 30  # 10 calls each: every task within its own share, the batch over its


async def _two_batches() -> tuple[float, list[float], int]:
    """Two orchestrators (two dispatchers, each its own Redis connection, gate and reply
    listener) on one queue: batch A's 30 tasks flood it, batch B makes a few calls."""
    update = {
        "cache_enabled": False,
        "fair_task_calls_per_queue": 2 * PER_TASK,  # no task of A is over its share
        "fair_batch_calls_per_queue": PER_BATCH,
    }
    settings = get_settings().model_copy(update=update)
    clients = [async_client(settings), async_client(settings)]
    a, b = (Dispatcher(settings, c) for c in clients)
    await a.start()
    await b.start()
    try:
        await Hermod(b, "batch-b", 0).call("noop", value=-1)  # warm
        start = time.perf_counter()
        per_task = FLOOD_CALLS // FLOOD_TASKS
        flooding = asyncio.gather(
            *(
                Hermod(a, "batch-a", t).call("noop", value=i, sleep_ms=SLEEP_MS)
                for t in range(FLOOD_TASKS)
                for i in range(per_task)
            )
        )
        await asyncio.sleep(0.2)
        latencies = await _timed_calls(Hermod(b, "batch-b", 1))
        assert len(await flooding) == FLOOD_TASKS * per_task
        return time.perf_counter() - start, latencies, a.stats["held_for_fairness"]
    finally:
        await a.stop()
        await b.stop()
        for c in clients:
            await c.aclose()


def test_a_flooding_batch_delays_another_batchs_calls_by_its_share_only(pools):
    # No task of A is over its own share: only the batch's cap keeps the queue open for B.
    flood_s, latencies, held = asyncio.run(_two_batches())
    print(
        f"batch B's calls: {', '.join(f'{s:.2f}' for s in latencies)} s; A's flood {flood_s:.1f} s"
    )
    assert held == FLOOD_CALLS - PER_BATCH
    assert flood_s >= FLOOD_CALLS * SLEEP_MS / 1000 / NOOP_PROCESSES
    bound_s = 2 * PER_BATCH * SLEEP_MS / 1000 + 0.5
    assert max(latencies) < bound_s < flood_s / 2, (latencies, flood_s)
