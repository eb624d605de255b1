"""Which worker node holds which message, and the messages nobody holds any more.

kombu's Redis transport keeps every delivered, unacked message in its `unacked` hash
until it is acked; the hash does not say who holds it. A message whose worker died
(SIGKILL of a whole node, or its pool process under a batching task) would come back only
after the visibility timeout (600 s). So each node's parent process publishes, every
HOLDINGS_BEAT_S, the delivery tags its channels hold (`dicec:holdings:<node>`); the
orchestrator's watchdog restores to its queue, at once, an unacked message that no live
node has reported for ORPHAN_GRACE_S. A node whose beat stopped changing for NODE_LAPSE_S
is not live (dead, frozen, or cut off). A wrongly restored message (a node only slow to
beat) costs one duplicate computation, dropped by call id; never a lost call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from celery import signals

from dicec import keys
from worker_models.broker import held_delivery_tags, retry_failed_acks

log = logging.getLogger(__name__)

NODE_LAPSE_S = 4.0  # four missed beats
ORPHAN_GRACE_S = 3.0  # a delivered message is reported by its node's next beat


class HoldingsBeat:
    """Publishes this node's held delivery tags from a daemon thread."""

    def __init__(self, r: redis.Redis, node: str) -> None:
        self._redis = r
        self._key = keys.holdings_key(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dicec-holdings", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(self._key)

    def _run(self) -> None:
        while True:
            body = {"beat_at": time.time(), "tags": sorted(held_delivery_tags())}
            with contextlib.suppress(redis.RedisError):  # Redis away: the next beat tries
                self._redis.set(self._key, json.dumps(body), ex=keys.HOLDINGS_TTL_S)
            retry_failed_acks(self._redis)
            if self._stop.wait(keys.HOLDINGS_BEAT_S):
                return


_beat: HoldingsBeat | None = None


@signals.worker_ready.connect
def _start_beat(sender: Any = None, **_: Any) -> None:
    """In a node's parent process, once its consumer runs."""
    global _beat
    from dicec.redis_conn import sync_client

    node = getattr(sender, "hostname", None) or "unknown-node"
    _beat = HoldingsBeat(sync_client(), node)
    _beat.start()


@signals.worker_shutdown.connect
def _stop_beat(**_: Any) -> None:
    if _beat is not None:
        _beat.stop()


# -- the orchestrator's side ---------------------------------------------------------------
def read_holdings(r: redis.Redis) -> dict[str, tuple[float, set[str]]]:
    """node -> (its last beat time, the tags it holds)."""
    names = list(r.scan_iter(match=keys.holdings_pattern(), count=500))
    out: dict[str, tuple[float, set[str]]] = {}
    for name, raw in zip(names, r.mget(names) if names else [], strict=True):
        if raw is None:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):
            body = json.loads(raw)
            out[name.decode() if isinstance(name, bytes) else name] = (
                float(body["beat_at"]),
                set(body["tags"]),
            )
    return out


def unacked_tags(r: redis.Redis) -> list[str]:
    return [t.decode() for t in r.zrange(keys.KOMBU_UNACKED_INDEX_KEY, 0, -1)]


class OrphanFinder:
    """Tells, from successive observations (on the orchestrator's own clock, so that
    worker clocks do not matter), which unacked messages no live node holds."""

    def __init__(self) -> None:
        self._beats: dict[str, tuple[float, float]] = {}  # node -> (beat_at, changed at)
        self._unheld_since: dict[str, float] = {}
        self._held_by: dict[str, str] = {}  # tag -> the node that reported it last

    def reset(self) -> None:
        """Forget everything (after a Redis outage: nobody could beat meanwhile)."""
        self._beats.clear()
        self._unheld_since.clear()
        self._held_by.clear()

    def orphans(
        self, now: float, holdings: dict[str, tuple[float, set[str]]], unacked: Iterable[str]
    ) -> list[str]:
        held: set[str] = set()
        lapsed: set[str] = set()
        for node, (beat_at, tags) in holdings.items():
            previous = self._beats.get(node)
            changed = now if previous is None or previous[0] != beat_at else previous[1]
            self._beats[node] = (beat_at, changed)
            if now - changed < NODE_LAPSE_S:
                held |= tags
                self._held_by.update(dict.fromkeys(tags, node))
            else:
                lapsed.add(node)
        found, seen = [], set()
        for tag in unacked:
            seen.add(tag)
            if tag in held:
                self._unheld_since.pop(tag, None)
                continue
            # Held by a node that lapsed since (dead, frozen): nobody else will report
            # it, so no grace. A tag nobody reported yet gets the grace: its node's next
            # beat may still report it.
            since = self._unheld_since.setdefault(tag, now)
            if self._held_by.get(tag) in lapsed or now - since >= ORPHAN_GRACE_S:
                found.append(tag)
        for tag in set(self._unheld_since) - seen:
            del self._unheld_since[tag]  # acked meanwhile
        for tag in set(self._held_by) - seen:
            del self._held_by[tag]
        for tag in found:
            self._unheld_since.pop(tag, None)
            self._held_by.pop(tag, None)
        return found


def restore(channel: Any, tags: Iterable[str]) -> int:
    """Put unacked messages back on their queues (kombu's own restore, atomic per tag:
    two orchestrators restoring the same tag put it back once)."""
    count = 0
    for tag in tags:
        channel.qos.restore_by_tag(tag, leftmost=False)
        count += 1
    return count


# -- messages and the calls they carry ---------------------------------------------------
def message_args(payload: Any) -> list[Any]:
    """The positional arguments inside one kombu message envelope ([] if unreadable)."""
    try:
        body = payload["body"]
        if payload.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return args if isinstance(args, list) else []
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return []


def message_calls(payload: Any) -> list[dict[str, Any]]:
    """The call requests inside one kombu message envelope ([] if it carries none)."""
    args = message_args(payload)
    calls = args[0] if args else []
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def present_envelopes(r: redis.Redis, queues: Iterable[str]) -> Iterable[Any]:
    """Every message envelope queued on `queues` or unacked right now. The queues are read
    first: a message moving from a queue to a consumer then shows in the unacked hash."""
    for queue in queues:
        for raw in r.lrange(queue, 0, -1):
            with contextlib.suppress(ValueError, TypeError):
                yield json.loads(raw)
    for _tag, raw in r.hscan_iter(keys.KOMBU_UNACKED_KEY, count=500):
        with contextlib.suppress(ValueError, TypeError, IndexError):
            yield json.loads(raw)[0]


def present_call_ids(r: redis.Redis, queues: Iterable[str]) -> set[str]:
    """Ids of the calls whose message is queued or unacked right now."""
    return {
        str(c.get("call_id"))
        for envelope in present_envelopes(r, queues)
        for c in message_calls(envelope)
    }


def _only_for(calls: list[dict[str, Any]], field: str, value: str) -> bool:
    return bool(calls) and all(c.get(field) == value for c in calls)


def leftovers(r: redis.Redis, queues: Iterable[str], field: str, value: str) -> dict[str, int]:
    """Messages still unacked or queued whose calls all have `field` == value
    (reply_to: one orchestrator's; batch_id: one batch's), counted by place."""
    counts = {"unacked": 0, "queued": 0}
    for _tag, raw in r.hscan_iter(keys.KOMBU_UNACKED_KEY, count=500):
        with contextlib.suppress(ValueError, TypeError, IndexError):
            counts["unacked"] += _only_for(message_calls(json.loads(raw)[0]), field, value)
    for queue in queues:
        for raw in r.lrange(queue, 0, -1):
            with contextlib.suppress(ValueError, TypeError):
                counts["queued"] += _only_for(message_calls(json.loads(raw)), field, value)
    return counts


def purge(r: redis.Redis, queues: Iterable[str], reply_to: str) -> int:
    """Remove the messages, unacked or queued, that only carry calls for `reply_to` (an
    orchestrator that is done: nobody would read their replies); how many."""
    removed = 0
    for tag, raw in r.hscan_iter(keys.KOMBU_UNACKED_KEY, count=500):
        with contextlib.suppress(ValueError, TypeError, IndexError):
            if _only_for(message_calls(json.loads(raw)[0]), "reply_to", reply_to):
                pipe = r.pipeline()
                pipe.zrem(keys.KOMBU_UNACKED_INDEX_KEY, tag)
                pipe.hdel(keys.KOMBU_UNACKED_KEY, tag)
                pipe.execute()
                removed += 1
    for queue in queues:
        for raw in r.lrange(queue, 0, -1):
            with contextlib.suppress(ValueError, TypeError):
                if _only_for(message_calls(json.loads(raw)), "reply_to", reply_to):
                    removed += int(r.lrem(queue, 1, raw))
    return removed
