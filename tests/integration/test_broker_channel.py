"""The worker's broker channel (worker_models/broker.py) against a real Redis that goes
away: closing a channel whose BRPOP is in flight on a dead connection must still close
it, so that the messages it delivered are no longer reported as held by this node."""

from __future__ import annotations

import contextlib
import time

from kombu import Connection, Exchange, Queue

from tests.support.redis_server import private_redis
from worker_models.app import BROKER_TRANSPORT
from worker_models.broker import held_delivery_tags

QUEUE = "broker-close-test"
DELIVER_TIMEOUT_S = 5.0


def test_a_channel_closes_when_its_connection_died_under_a_pending_brpop() -> None:
    with private_redis(appendonly=False) as server:
        queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)
        with Connection(server.url, transport=BROKER_TRANSPORT) as producer:
            for i in range(2):
                producer.Producer().publish(
                    {"i": i}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue]
                )
        conn = Connection(server.url, transport=BROKER_TRANSPORT)
        got: list[object] = []
        consumer = conn.Consumer([queue], callbacks=[lambda _body, m: got.append(m)])
        consumer.qos(prefetch_count=5)  # room left: a BRPOP stays in flight
        consumer.consume()
        deadline = time.monotonic() + DELIVER_TIMEOUT_S
        while len(got) < 2 or not consumer.channel._in_poll:
            assert time.monotonic() < deadline, f"delivered {len(got)} of 2"
            with contextlib.suppress(TimeoutError):  # the BRPOP for a third one pends
                conn.drain_events(timeout=0.2)
        channel = consumer.channel
        assert len(held_delivery_tags()) >= 2
        server.stop()  # the server closes the connection under the pending BRPOP
        channel.close()  # kombu's own close raised ConnectionError here, channel left open
        assert channel.closed
        assert not held_delivery_tags() & set(channel.qos._delivered)
