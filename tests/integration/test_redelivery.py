"""SIGKILL a worker while it holds a call: the call is redelivered to another worker and
completes exactly once. Runs in its own Redis DB so no other pool can take the call."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from orchestrator.batch.localpools import LocalPools, node_name
from tests.conftest import REDIS_URL, ROOT, blpop_wait
from worker_models.calls import prepare_call
from worker_models.pools import load_pools
from worker_models.wire import decode_reply

POOLS = ROOT / "tests" / "data" / "pools-noop.yaml"
VISIBILITY_TIMEOUT_S = 3
HOLD_MS = 6000


def _other_db(url: str, db: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


@pytest.fixture()
def isolated(redis_client):  # the real Redis must answer
    url = _other_db(REDIS_URL, 3)
    client = redis.Redis.from_url(url)
    client.delete("noop", "unacked", "unacked_index")
    pools = LocalPools(
        load_pools(POOLS),
        POOLS,
        client,
        env={"REDIS_URL": url, "DICEC_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S)},
        log_dir=ROOT / "var" / "test-logs",
    )
    pools.spawn("noop", 0)
    pools.spawn("noop", 1)
    try:
        pools.wait_ready()
        yield url, client, pools
    finally:
        pools.stop()


def test_killed_worker_call_is_redelivered_and_completes_once(isolated):
    from dicec.settings import Settings
    from worker_models.app import make_celery

    url, client, pools = isolated
    app = make_celery(Settings(redis_url=url))  # a client bound to the isolated DB
    reply_to = f"dicec:reply:test-redelivery-{os.getpid()}"
    client.delete(reply_to)
    request = prepare_call("noop", {"value": "survives", "sleep_ms": HOLD_MS}).request(
        reply_to, use_cache=False
    )
    app.send_task("dicec.fn.noop", args=[[request.model_dump()]], queue="noop")
    holder = None
    deadline = time.monotonic() + 30
    while holder is None and time.monotonic() < deadline:
        active = app.control.inspect(timeout=1.0).active() or {}
        holder = next((name for name, tasks in active.items() if tasks), None)
    assert holder is not None, "no worker picked the call up"
    replica = 0 if holder == node_name("noop", 0) else 1
    victim = pools.procs["noop"][replica]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)

    raw = blpop_wait(client, reply_to)
    assert raw is not None, "the call was lost with its worker"
    reply = decode_reply(raw)
    assert reply.ok and reply.result == {"value": "survives"}
    assert reply.call_id == request.call_id
    assert reply.worker == node_name("noop", 1 - replica)
    time.sleep(VISIBILITY_TIMEOUT_S + 1)  # a second delivery would have replied by now
    assert client.llen(reply_to) == 0, "the call completed twice"
    client.delete(reply_to)
