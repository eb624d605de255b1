"""A baseline batch's lost-task scan (orchestrator/batch/baseline_recovery.py) on real
Redis: a waiting task whose message is on the queue is left alone; one on no queue and
unacked by nobody is sent again, but only after two scans in a row, and only once."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

from dicec.settings import get_settings
from orchestrator.batch.baseline_recovery import LostTasks, present_tasks


def _envelope(batch_id: str, index: int) -> dict:
    """A message as kombu's Redis transport stores it (base64 JSON body)."""
    body = json.dumps([[{"batch_id": batch_id, "index": index}], {}, {}]).encode()
    return {"body": base64.b64encode(body).decode(), "properties": {"body_encoding": "base64"}}


def test_envelopes_name_their_batch_and_task():
    envelopes = [_envelope("b1", 3), _envelope("b2", 4), {"body": "not json"}, "junk"]
    assert present_tasks(envelopes, "b1") == {3}


def test_a_task_missing_twice_in_a_row_is_sent_again_once(redis_client):
    queue = f"test-monolith-{uuid.uuid4().hex}"
    batch_id = uuid.uuid4().hex
    redis_client.lpush(queue, json.dumps(_envelope(batch_id, 1)))
    waiting = {0, 1}
    lost = LostTasks(get_settings(), batch_id, waiting, queue=queue)
    sent: list[list[int]] = []

    async def resend(indices: list[int]) -> None:
        sent.append(indices)

    async def scans() -> None:
        await lost._round(resend)  # task 0 missing once: not yet
        assert sent == []
        await lost._round(resend)  # missing twice: sent again
        assert sent == [[0]]
        redis_client.lpush(queue, json.dumps(_envelope(batch_id, 0)))  # the resent message
        await lost._round(resend)
        await lost._round(resend)
        assert sent == [[0]]
        waiting.discard(1)
        redis_client.delete(queue)  # both answered: nothing waits
        waiting.discard(0)
        await lost._round(resend)
        await lost._round(resend)
        assert sent == [[0]]

    try:
        asyncio.run(scans())
    finally:
        redis_client.delete(queue)
        lost.orphans.close()
    assert lost.resent == 1
