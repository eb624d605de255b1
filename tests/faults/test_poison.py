"""Poison on the queues mid-batch: bytes that are no message at all, a pickled message,
a body that is no list of calls, a call of an unknown wire schema version, a call with
no reply address, a task nobody registered. Workers drop (or answer) each one, stay up,
and the batch completes untouched."""

from __future__ import annotations

import time
import uuid

from dicec import keys
from tests.conftest import blpop_wait
from tests.faults.counts import count_batch, report
from tests.faults.rig import FaultRig
from worker_models.wire import decode_reply

TASKS = 200
QUEUES = ("glip", "blip", "xvlm")


def _call(reply_to: str, **changes: object) -> dict:
    call = {
        "v": 1,
        "call_id": uuid.uuid4().hex,
        "function": "blip",
        "params": {"image": "img:" + "0" * 64, "question": "what?"},
        "reply_to": reply_to,
        "sent_at": time.time(),
    }
    return {**call, **changes}


def inject_poison(rig: FaultRig, reply_to: str) -> dict[str, int]:
    """Put every kind of poison on the claims queues; what was put, by kind."""
    sent: dict[str, int] = {}

    def count(kind: str) -> None:
        sent[kind] = sent.get(kind, 0) + 1

    for queue in QUEUES:
        rig.client.lpush(queue, b"\x00\xff this is not a kombu message")
        count("not_a_message")
        rig.client.lpush(queue, b'{"body": "no envelope fields"}')
        count("broken_envelope")
        task = keys.task_name_for(queue)
        rig.celery.send_task(task, args=[[_call(reply_to)]], queue=queue, serializer="pickle")
        count("pickle")
        rig.celery.send_task(task, args=[{"not": "a list"}], queue=queue)
        count("body_not_a_list")
        rig.celery.send_task(task, args=[[_call(reply_to, v=2, function=queue)]], queue=queue)
        count("schema_v2")
        rig.celery.send_task(
            task, args=[[{**_call(""), "function": queue, "reply_to": None}]], queue=queue
        )
        count("no_reply_to")
        rig.celery.send_task("dicec.fn.no_such_function", args=[[]], queue=queue)
        count("unregistered_task")
    return sent


def test_poison_messages_mid_batch(healthy: FaultRig) -> None:
    rig = healthy
    pids = {node: proc.pid for node, proc in rig.nodes.items()}
    batch_id = f"fault-poison-{uuid.uuid4().hex[:8]}"
    reply_to = keys.reply_key(f"poison-{uuid.uuid4().hex[:8]}")
    started = time.time()
    proc = rig.submit_claims(batch_id, TASKS, "--concurrency", "16")
    try:
        rig.wait_done(batch_id, TASKS // 4, proc)
        sent = inject_poison(rig, reply_to)
        summary = rig.finish(proc)
    finally:
        rig.kill_batch(proc)
    answers = [blpop_wait(rig.client, reply_to, timeout_s=10.0) for _ in QUEUES]
    rig.client.delete(reply_to)
    counts = count_batch(
        rig.client,
        "poison_messages",
        batch_id,
        [summary],
        sent,
        time.time() - started,
        leftovers=rig.leftovers(batch_id),
    )
    report(counts)
    assert counts.lost == 0 and counts.duplicated == 0
    assert counts.ok == TASKS and counts.failed_calls == 0 and counts.swallowed == 0
    assert not any(counts.leftovers.values()), f"left in Redis: {counts.leftovers}"
    # A call of another schema version is answered with a clear error, not dropped silently.
    assert all(a is not None for a in answers), "a v2 call got no answer"
    for raw in answers:
        reply = decode_reply(raw)
        assert not reply.ok and reply.error_type == "WireFormatError"
        assert "schema version" in (reply.error or "")
    # Every worker node survived the poison, and none of it is still on a queue.
    assert {node: proc.pid for node, proc in rig.nodes.items()} == pids
    assert all(proc.poll() is None for proc in rig.nodes.values())
    assert all(rig.client.llen(q) == 0 for q in QUEUES)
