"""Throughput features through real worker processes: dynamic batching gives the same
results as one call per forward pass, and a worker killed in the middle of a batch loses
none of its requests."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest
import redis
from PIL import Image

from dicec import keys
from dicec.records import CallTrace
from dicec.redis_conn import async_client
from dicec.settings import Settings, get_settings
from orchestrator.batch.localpools import LocalPools, node_name
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.program.hermod import Hermod
from tests.conftest import REDIS_URL, ROOT, blpop_wait
from worker_models.calls import prepare_call
from worker_models.pools import load_pools
from worker_models.wire import CallReply, decode_reply

QUESTIONS = (
    "What is the color of the car?",
    "What is the model of the car?",
    "Is the car on its roof in the middle of the road?",
    "Red?",
)
BLIP_BATCH = 8  # the test pools file batches blip by 8

BATCHED_POOLS = ROOT / "tests" / "data" / "pools-noop-batched.yaml"
BATCHED_POOL = "noopbatch"
ISOLATED_DB = 13  # no other pool consumes `noop` there (test_redelivery uses DB 3)
VISIBILITY_TIMEOUT_S = 3
# How long the batch's forward pass lasts: the kill lands inside it (we kill as soon as
# the flush starts). Shorter than the visibility timeout, or the redelivered batch itself
# would be handed out again while it runs (kombu's Redis transport: at-least-once).
HOLD_MS = 1000
FLUSH_MESSAGES = 4  # = max_batch_size in that pools file: one flush takes all
REPLY_WAIT_S = 60.0


def crops(n: int) -> list[Image.Image]:
    """Car-crop-like images of varied sizes (the processor resizes; padding still varies)."""
    rng = np.random.default_rng(11)
    shapes = rng.integers(24, 140, size=(n, 2))
    return [
        Image.fromarray(rng.integers(0, 255, (int(h), int(w), 3), dtype=np.uint8))
        for h, w in shapes
    ]


async def _blip_through_hermod(
    calls: list[tuple[Image.Image, str]], together: bool
) -> tuple[list, list[CallTrace], dict[str, int]]:
    settings = get_settings().model_copy(update={"cache_enabled": False})  # compute all
    aredis = async_client(settings)
    traces: list[CallTrace] = []
    dispatcher = Dispatcher(settings, aredis, on_trace=traces.append)
    await dispatcher.start()
    hermod = Hermod(dispatcher)
    try:
        if together:  # one gather: one message, one forward pass
            results = await asyncio.gather(
                *(hermod.call("blip", image=i, question=q) for i, q in calls)
            )
        else:  # one call at a time: one message and one forward pass each
            results = [await hermod.call("blip", image=i, question=q) for i, q in calls]
    finally:
        await dispatcher.stop()
        await aredis.aclose()
    return list(results), traces, dict(dispatcher.stats)


def test_batched_results_equal_unbatched_results_through_the_workers(pools):
    calls = [(image, QUESTIONS[i % len(QUESTIONS)]) for i, image in enumerate(crops(BLIP_BATCH))]
    batched, batched_traces, batched_stats = asyncio.run(_blip_through_hermod(calls, True))
    alone, alone_traces, alone_stats = asyncio.run(_blip_through_hermod(calls, False))

    assert batched_stats["messages"] == 1
    assert [t.batch_size for t in batched_traces] == [BLIP_BATCH] * BLIP_BATCH
    assert alone_stats["messages"] == BLIP_BATCH
    assert [t.batch_size for t in alone_traces] == [1] * BLIP_BATCH
    assert not any(t.cached for t in batched_traces + alone_traces)
    assert batched == alone
    assert len({str(r) for r in alone}) > 1, "the answers must depend on the inputs to bite"


# -- a worker killed in the middle of a batch ------------------------------------------


def _isolated_url() -> str:
    return REDIS_URL.rsplit("/", 1)[0] + f"/{ISOLATED_DB}"


@pytest.fixture()
def isolated(redis_client):  # the real Redis must answer
    url = _isolated_url()
    client = redis.Redis.from_url(url)
    reply_to = keys.reply_key(f"test-throughput-{os.getpid()}")
    scratch = ["noop", "unacked", "unacked_index", "unacked_mutex", reply_to]
    client.delete(*scratch)
    pools = LocalPools(
        load_pools(BATCHED_POOLS),
        BATCHED_POOLS,
        client,
        env={"REDIS_URL": url, "DICEC_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S)},
        log_dir=ROOT / "var" / "test-logs",
    )
    try:
        pools.spawn(BATCHED_POOL, 0)  # alone: it takes the whole flush
        pools.wait_ready()
        yield url, client, pools, reply_to
    finally:
        pools.stop()
        client.delete(*scratch)


def _collect(client: redis.Redis, reply_to: str, wanted: set[str]) -> list[CallReply]:
    """Replies to the wanted calls, until each has one (or the wait runs out)."""
    got: list[CallReply] = []
    deadline = time.monotonic() + REPLY_WAIT_S
    while {r.call_id for r in got} != wanted and time.monotonic() < deadline:
        raw = blpop_wait(client, reply_to, timeout_s=max(0.1, deadline - time.monotonic()))
        if raw is not None and (reply := decode_reply(raw)).call_id in wanted:
            got.append(reply)
    return got


def test_a_worker_killed_mid_batch_loses_none_of_its_requests(isolated):
    from worker_models.app import make_celery

    url, client, pools, reply_to = isolated
    app = make_celery(Settings(redis_url=url))  # a client bound to the isolated DB
    requests = [
        prepare_call("noop", {"value": i, "sleep_ms": HOLD_MS}).request(reply_to, use_cache=False)
        for i in range(FLUSH_MESSAGES)
    ]
    # The first message also carries an undecodable call: the worker answers it as soon as
    # the flush starts, before the forward pass, which tells us the batch is in its hands.
    sentinel = {"call_id": "sentinel", "reply_to": reply_to}
    bodies = [[sentinel, requests[0].model_dump()]] + [[r.model_dump()] for r in requests[1:]]
    for body in bodies:
        app.send_task(keys.task_name_for("noop"), args=[body], queue=keys.queue_for("noop"))

    first = blpop_wait(client, reply_to, timeout_s=REPLY_WAIT_S)
    assert first is not None and decode_reply(first).call_id == "sentinel"
    assert client.llen("noop") == 0, "the worker should hold every message of the flush"
    victim = pools.procs[BATCHED_POOL].pop()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)
    answered_by_victim = [decode_reply(raw).call_id for raw in client.lrange(reply_to, 0, -1)]
    assert set(answered_by_victim) <= {"sentinel"}, "killed after the batch had finished"

    pools.spawn(BATCHED_POOL, 1)  # the survivor gets the redelivered messages
    wanted = {r.call_id for r in requests}
    replies = _collect(client, reply_to, wanted)
    assert sorted(r.call_id for r in replies) == sorted(wanted), "requests were lost"
    by_id = {r.call_id: r for r in replies}
    for req in requests:
        reply = by_id[req.call_id]
        assert reply.ok and reply.result == {"value": req.params["value"]}
        assert reply.worker == node_name(BATCHED_POOL, 1)

    time.sleep(VISIBILITY_TIMEOUT_S + 1)  # a second delivery would have replied by now
    late = [decode_reply(raw).call_id for raw in client.lrange(reply_to, 0, -1)]
    assert not wanted & set(late), "a request was answered twice"
