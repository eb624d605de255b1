"""A call that kills its worker process every time it runs is refused after a few tries,
its neighbours in the same message are still answered, and the worker keeps serving.

The "poison" is a slow noop call that this test SIGKILLs the pool process under, every
time it runs (a segfaulting input would do the same). Runs in its own Redis DB so that no
other pool takes the message."""

from __future__ import annotations

import signal
import time

import psutil
import pytest
import redis

from dicec import keys
from dicec.settings import Settings
from orchestrator.batch.localpools import LocalPools
from tests.conftest import REDIS_URL, ROOT, blpop_wait
from worker_models.calls import prepare_call
from worker_models.pools import load_pools
from worker_models.service import MAX_CRASH_STARTS
from worker_models.wire import CallReply, decode_reply

POOLS = ROOT / "tests" / "data" / "pools-noop.yaml"
CRASH_DB = 11
POISON_SLEEP_MS = 3000  # long enough to be killed in the middle of it
WAIT_S = 60.0


@pytest.fixture()
def isolated(redis_client):  # the real Redis must answer
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{CRASH_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    pools = LocalPools(
        load_pools(POOLS), POOLS, client, env={"REDIS_URL": url}, log_dir=ROOT / "var" / "test-logs"
    )
    pools.spawn("noop", 0)
    pools.wait_ready()
    try:
        yield url, client, pools
    finally:
        pools.stop()
        client.flushdb()


def _kill_pool_process(node: psutil.Process) -> int:
    """SIGKILL the node's prefork child (concurrency 1: there is one); its parent lives."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        children = node.children()
        if children:
            children[0].send_signal(signal.SIGKILL)
            return children[0].pid
        time.sleep(0.05)
    raise AssertionError("the worker node has no pool process to kill")


def _wait_for_start(client: redis.Redis, key: str, starts: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while int(client.get(key) or 0) < starts:
        assert time.monotonic() < deadline, f"the call never started a {starts}. time"
        time.sleep(0.02)


def test_a_call_that_kills_its_process_is_refused_and_the_rest_answered(isolated):
    from worker_models.app import make_celery

    url, client, pools = isolated
    app = make_celery(Settings(redis_url=url))  # a client bound to the isolated DB
    reply_to = keys.reply_key("test-crash-loop")
    poison = prepare_call("noop", {"value": 1, "sleep_ms": POISON_SLEEP_MS})
    innocent = prepare_call("noop", {"value": 2})
    requests = [
        poison.request(reply_to, use_cache=False),
        innocent.request(reply_to, use_cache=False),
    ]
    app.send_task(
        keys.task_name_for("noop"),
        args=[[r.model_dump() for r in requests]],
        queue=keys.queue_for("noop"),
    )
    node = psutil.Process(pools.procs["noop"][0].pid)
    crash_key = keys.crash_key(requests[0].call_id)

    time.sleep(1.0)  # the first delivery is sleeping in the poison call
    killed = [_kill_pool_process(node)]
    # Each redelivery runs the calls one by one and counts the poison's starts: kill it
    # in every run it is allowed.
    for starts in range(1, MAX_CRASH_STARTS):
        _wait_for_start(client, crash_key, starts)
        time.sleep(0.3)
        killed.append(_kill_pool_process(node))
    assert len(set(killed)) == MAX_CRASH_STARTS, "each run was in a fresh pool process"

    replies: dict[str, CallReply] = {}
    deadline = time.monotonic() + WAIT_S
    while len(replies) < 2 and time.monotonic() < deadline:
        raw = blpop_wait(client, reply_to, timeout_s=deadline - time.monotonic())
        if raw is not None:
            reply = decode_reply(raw)
            replies[reply.call_id] = reply
    refused, answered = replies[requests[0].call_id], replies[requests[1].call_id]
    assert not refused.ok and refused.error_type == "CrashLoopError"
    assert f"handed out {MAX_CRASH_STARTS} times" in (refused.error or "")
    assert answered.ok and answered.result == {"value": 2}
    assert client.get(crash_key) is None, "the counter goes with the answer"

    # The node survived all of it and serves the next call normally.
    fresh = prepare_call("noop", {"value": 3}).request(reply_to, use_cache=False)
    app.send_task(keys.task_name_for("noop"), args=[[fresh.model_dump()]], queue="noop")
    deadline = time.monotonic() + WAIT_S
    while (reply := replies.get(fresh.call_id)) is None and time.monotonic() < deadline:
        # A neighbour may be answered again by a later run: duplicates, dropped by id.
        raw = blpop_wait(client, reply_to, timeout_s=deadline - time.monotonic())
        if raw is not None:
            again = decode_reply(raw)
            assert again.call_id in replies or again.call_id == fresh.call_id
            replies.setdefault(again.call_id, again)
    assert reply is not None and reply.result == {"value": 3}
    assert node.is_running()
