"""The evidence the dispatcher recovers by: which unacked messages no live node holds,
what kind of Redis trouble an error is, and the messages left over for one orchestrator."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dicec import keys
from dicec.errors import BatchInterrupted
from orchestrator.dispatch.redis_health import RedisHealth, refusal, trouble_kind
from worker_models.holdings import (
    NODE_LAPSE_S,
    ORPHAN_GRACE_S,
    OrphanFinder,
    leftovers,
    message_calls,
    purge,
)


def test_a_message_held_by_a_live_node_is_never_an_orphan() -> None:
    finder = OrphanFinder()
    for second in range(30):  # the node beats every second and keeps holding "a"
        assert finder.orphans(float(second), {"n1": (float(second), {"a"})}, ["a"]) == []


def test_an_unheld_message_is_an_orphan_after_the_grace_once() -> None:
    finder = OrphanFinder()
    holdings = {"n1": (0.0, set())}
    assert finder.orphans(0.0, holdings, ["a"]) == []
    assert finder.orphans(ORPHAN_GRACE_S - 0.5, holdings, ["a"]) == []
    assert finder.orphans(ORPHAN_GRACE_S, holdings, ["a"]) == ["a"]
    assert finder.orphans(ORPHAN_GRACE_S + 0.5, holdings, ["a"]) == []  # grace again


def test_a_node_whose_beat_stops_holds_nothing() -> None:
    """A SIGKILLed node's holdings key outlives it; its unchanging beat gives it away,
    and what it held is an orphan at once: no other node will report it."""
    finder = OrphanFinder()
    frozen = {"dead": (100.0, {"a"})}
    assert finder.orphans(0.0, frozen, ["a"]) == []
    assert finder.orphans(NODE_LAPSE_S - 0.5, frozen, ["a"]) == []
    assert finder.orphans(NODE_LAPSE_S, frozen, ["a"]) == ["a"]


def test_a_message_nobody_reported_yet_gets_the_grace_even_beside_a_dead_node() -> None:
    finder = OrphanFinder()
    beats = {"dead": (100.0, {"a"})}
    assert finder.orphans(NODE_LAPSE_S, beats, ["b"]) == []  # just delivered: not reported
    assert finder.orphans(NODE_LAPSE_S + ORPHAN_GRACE_S - 0.5, beats, ["b"]) == []
    assert finder.orphans(NODE_LAPSE_S + ORPHAN_GRACE_S, beats, ["b"]) == ["b"]


def test_reset_after_an_outage_gives_every_node_a_fresh_start() -> None:
    finder = OrphanFinder()
    frozen = {"n1": (5.0, {"a"})}
    finder.orphans(0.0, frozen, ["a"])
    finder.reset()  # Redis was away: nobody could beat
    assert finder.orphans(20.0, frozen, ["a"]) == []


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OutOfMemoryError("command not allowed"), "oom"),
        (ReadOnlyError("You can't write against a read only replica."), "readonly"),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots"), "misconf"),
        (RedisTimeoutError("Timeout reading from socket"), "unreachable"),
        (RedisConnectionError("Connection refused"), "unreachable"),
        (ResponseError("WRONGTYPE Operation against a key"), None),
    ],
)
def test_trouble_kinds(exc: Exception, kind: str | None) -> None:
    assert trouble_kind(exc) == kind


def test_a_wrapped_refusal_is_still_a_refusal() -> None:
    try:
        try:
            raise OutOfMemoryError("command not allowed")
        except OutOfMemoryError as inner:
            raise RuntimeError("kombu: could not publish") from inner
    except RuntimeError as outer:
        assert refusal(outer) == "oom"


def test_health_says_once_ends_on_a_write_and_interrupts_past_its_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = RedisHealth(limit_s=0.0)
    for _ in range(5):
        health.trouble(OutOfMemoryError("command not allowed"))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "Remedy: raise maxmemory" in said[0]
    assert not health.ok(wrote=False)  # reads still work on a full Redis
    assert health.trouble(OutOfMemoryError("x"))  # past the limit (0 s)
    assert isinstance(health.interruption(), BatchInterrupted)
    assert "--resume" in str(health.interruption())
    assert health.ok(wrote=True) and not health.down
    assert health.overlaps(0.0, 1e12)


def _message(reply_to: str, batch_id: str) -> dict:
    call = {"call_id": uuid.uuid4().hex, "reply_to": reply_to, "batch_id": batch_id}
    body = base64.b64encode(json.dumps([[[call]], {}, {}]).encode()).decode()
    tag = str(uuid.uuid4())
    return {"body": body, "properties": {"body_encoding": "base64", "delivery_tag": tag}}


def test_leftovers_and_purge_on_real_redis(redis_client: redis.Redis) -> None:
    queue = f"test-leftovers-{uuid.uuid4().hex[:6]}"
    mine, other = _message("dicec:reply:me", "b1"), _message("dicec:reply:other", "b2")
    assert message_calls(mine)[0]["batch_id"] == "b1"
    tags = []
    try:
        for msg in (mine, other):
            tag = msg["properties"]["delivery_tag"]
            tags.append(tag)
            redis_client.hset(keys.KOMBU_UNACKED_KEY, tag, json.dumps([msg, queue, queue]))
            redis_client.zadd(keys.KOMBU_UNACKED_INDEX_KEY, {tag: 1.0})
            redis_client.lpush(queue, json.dumps(msg))
        assert leftovers(redis_client, [queue], "batch_id", "b1") == {"unacked": 1, "queued": 1}
        assert purge(redis_client, [queue], "dicec:reply:me") == 2
        assert leftovers(redis_client, [queue], "batch_id", "b1") == {"unacked": 0, "queued": 0}
        assert leftovers(redis_client, [queue], "batch_id", "b2") == {"unacked": 1, "queued": 1}
    finally:
        redis_client.delete(queue)
        redis_client.hdel(keys.KOMBU_UNACKED_KEY, *tags)
        redis_client.zrem(keys.KOMBU_UNACKED_INDEX_KEY, *tags)
