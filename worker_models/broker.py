"""kombu's Redis transport, hardened against poison put straight onto a queue.

kombu pops a message with BRPOP and decodes its envelope inside the worker's event loop.
Bytes that are not JSON raise out of that loop and Celery stops the whole worker
("Unrecoverable error: JSONDecodeError"); JSON without the envelope's fields makes the
consumer drop its broker connection and restart. One LPUSH of garbage onto a queue
would thus take down every worker consuming it, one after the other. This transport
logs and drops such a message instead (it was already popped: nobody can ever run it).
A well-formed envelope still goes through Celery's own checks: JSON content only,
a registered task, and the body shape checked in service.handle.

A server that refuses a blocking pop for now (it turned into a replica, is out of
memory or loading) is treated as a lost connection, not as a fatal error.

Selected with Celery's `broker_transport` (worker_models.app); the URL scheme (redis://
or rediss://) and TLS options work as with kombu's own transport.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import weakref
from collections.abc import Iterator
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from dicec import keys
from worker_models.pool_gate import accepting

log = logging.getLogger(__name__)

UNDECODABLE = (json.JSONDecodeError, UnicodeDecodeError)
# Every channel of this process, so the holdings beat can tell which messages it holds.
OPEN_CHANNELS: weakref.WeakSet[Channel] = weakref.WeakSet()
# Acks Redis refused (full, read-only, away): the holdings beat retries them.
FAILED_ACKS: set[str] = set()
# Redis refusing or losing a write for now; not a bug.
PASSING = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.ReadOnlyError,
    redis.OutOfMemoryError,
)


def envelope_problem(payload: Any) -> str | None:
    """Why a decoded payload is not a kombu message envelope (None: it is one)."""
    if not isinstance(payload, dict):
        return f"a JSON {type(payload).__name__}, not an object"
    props = payload.get("properties")
    if not isinstance(props, dict) or not isinstance(props.get("delivery_tag"), str):
        return "no properties.delivery_tag"
    info = props.get("delivery_info")
    if not isinstance(info, dict) or not {"exchange", "routing_key"} <= info.keys():
        return "no properties.delivery_info with exchange and routing_key"
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        return "body is not text"
    if body and props.get("body_encoding") == "base64":
        try:
            base64.b64decode(body, validate=True)
        except binascii.Error:
            return "body is not valid base64"
    return None


def held_delivery_tags() -> set[str]:
    """Delivery tags of the messages this process's open channels hold unacked."""
    tags: set[str] = set()
    for channel in list(OPEN_CHANNELS):
        qos = getattr(channel, "_qos", None)  # kombu creates it on first use
        if qos is None or channel.closed:
            continue
        for _ in range(3):  # the consumer thread may change them while we copy
            try:
                tags |= set(qos._delivered) - set(qos._dirty)
                break
            except RuntimeError:
                continue
    return tags


def refused(exc: redis.ResponseError) -> bool:
    """A server that cannot serve a blocking pop now, but may soon: it turned into a
    replica (UNBLOCKED, READONLY), is out of memory, cannot persist, or is loading."""
    text = str(exc)
    return isinstance(exc, redis.ReadOnlyError | redis.OutOfMemoryError) or text.startswith(
        ("UNBLOCKED", "MISCONF", "LOADING")
    )


class QoS(kombu_redis.QoS):
    """kombu's unacked bookkeeping, without losing a message when Redis refuses it.

    kombu records a delivery and removes an ack in MULTI transactions, and Redis refuses
    every command queued in a MULTI while it is over maxmemory (and all writes while
    read-only). **Found by the suite**: a popped message whose record was refused was
    lost; an ack refused left the message held by its node forever (never redelivered,
    never cleared). Here a refused record still delivers the message (it runs; only a
    crash of this node before it is acked would lose it), and a refused ack is forgotten
    locally and retried by the holdings beat (`retry_failed_acks`). A node with no
    pool process up takes nothing (worker_models/pool_gate.py)."""

    def can_consume(self) -> bool:
        # Only a channel that pops task queues waits (kombu's poller also asks this of
        # the channel that listens for control broadcasts, which must go on reading).
        channel = self.channel
        if not accepting() and channel.active_queues and not channel.active_fanout_queues:
            return False
        return super().can_consume()

    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except PASSING as exc:
            log.warning("could not record %s as unacked (%s); running it", delivery_tag, exc)
            virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        try:
            super().ack(delivery_tag)
        except PASSING as exc:
            log.warning("could not ack message %s (%s); retrying soon", delivery_tag, exc)
            FAILED_ACKS.add(delivery_tag)
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue)
        except PASSING as exc:
            # Still unacked in Redis and no longer held here: the orchestrator's watchdog
            # restores it once Redis takes writes again.
            log.warning("could not requeue message %s (%s)", delivery_tag, exc)
            virtual.QoS.ack(self, delivery_tag)


def retry_failed_acks(client: redis.Redis) -> None:
    """Remove the acked messages Redis refused to forget before (no MULTI: allowed on a
    full Redis); those still refused stay for the next try."""
    for tag in list(FAILED_ACKS):
        try:
            pipe = client.pipeline(transaction=False)
            pipe.zrem(keys.KOMBU_UNACKED_INDEX_KEY, tag)
            pipe.hdel(keys.KOMBU_UNACKED_KEY, tag)
            pipe.execute()
        except redis.RedisError:
            return
        FAILED_ACKS.discard(tag)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: redis.Redis | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        OPEN_CHANNELS.add(self)

    @contextlib.contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        """kombu's, with one client per connection pool instead of a new one per command.

        kombu builds a `redis.Redis` for every publish, ack and event (`_create_client`),
        and redis-py's constructor registers ~200 response callbacks: 0.37 CPU-ms each,
        two per Celery message sent (the message and its task-sent event), measured with
        cProfile over 800 publishes. A client is only a handle on its pool (thread-safe,
        each command takes a connection from the pool), so one serves them all; a pool
        kombu replaced after a lost connection gets a client of its own."""
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._shared_client = self._create_client()
        yield shared

    def close(self) -> None:
        """kombu's close, finished on a dead connection too.

        kombu first reads the reply of a BRPOP in flight and expects only Empty there; on
        a connection the server closed (Redis restarted) it raises ConnectionError and
        the channel is left open: the messages it delivered are never restored (Celery
        dropped them when it reconnected) and the holdings beat reports them as held, so
        nothing puts them back before the visibility timeout. **Found by the suite**
        (Redis restart with AOF: calls stuck until the 120-s call timeout)."""
        try:
            super().close()
        except (*PASSING, OSError) as exc:
            log.warning("broker connection lost while closing a channel (%s); closing it", exc)
            self._in_poll = None  # that reply died with the connection
            with contextlib.suppress(*PASSING, OSError):  # restoring needs the server
                super().close()
            self.closed = True

    def _brpop_read(self, **options: Any) -> Any:
        try:
            return super()._brpop_read(**options)
        except UNDECODABLE as exc:
            log.error("dropped a message that is not JSON from a queue: %s", exc)
            return True
        except redis.ResponseError as exc:
            # kombu treats a server error here as fatal and Celery stops the whole worker
            # ("Unrecoverable error: UNBLOCKED ... master -> replica"; found by the fault
            # suite). As a lost connection, the consumer reconnects with back-off instead.
            if not refused(exc):
                raise
            log.warning("Redis refused to serve the queues (%s); reconnecting", exc)
            raise redis.ConnectionError(str(exc)) from exc

    def _get(self, queue: str) -> Any:
        try:
            return super()._get(queue)
        except UNDECODABLE as exc:
            log.error("dropped a message that is not JSON from queue %s: %s", queue, exc)
            raise Empty() from None


class Transport(kombu_redis.Transport):
    Channel = Channel
    # A read-only or full server (a failover in progress, maxmemory reached) refuses the
    # writes a consumer makes when it connects (kombu's unacked-restore lock) or pops: as
    # connection errors, Celery's consumer reconnects with back-off instead of exiting.
    connection_errors = (
        *kombu_redis.Transport.connection_errors,
        redis.ReadOnlyError,
        redis.OutOfMemoryError,
    )

    def _deliver(self, message: Any, queue: str) -> None:
        problem = envelope_problem(message)
        if problem is not None:
            log.error("dropped a malformed message from queue %s: %s", queue, problem)
            return
        super()._deliver(message, queue)
