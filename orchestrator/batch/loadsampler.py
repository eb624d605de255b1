"""Sampling this host's CPU (and memory) load during a batch, for the report's load plot.

    with sample_load(r, batch_id):
        run the batch

Samples go to keys.batch_load_key(batch_id) as LoadSample JSON. GPU load is not sampled
here (no GPU library in the dependencies); the report says so.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import redis
from redis.exceptions import RedisError

from dicec import keys
from dicec.records import LoadSample

SAMPLE_EVERY_S = 1.0


@contextmanager
def sample_load(r: redis.Redis, batch_id: str, every_s: float = SAMPLE_EVERY_S) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(
        target=_sample, args=(r, batch_id, every_s, stop), name="dicec-load-sampler", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _sample(r: redis.Redis, batch_id: str, every_s: float, stop: threading.Event) -> None:
    host = socket.gethostname()
    key = keys.batch_load_key(batch_id)
    psutil.cpu_percent(interval=None)  # the first call only starts the measurement
    while not stop.wait(every_s):  # a periodic timer, not a poll for a condition
        sample = LoadSample(
            t=time.time(),
            host=host,
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_percent=psutil.virtual_memory().percent,
        )
        try:
            r.rpush(key, sample.model_dump_json())
            r.expire(key, keys.BATCH_TTL_S)
        except RedisError:
            return  # the batch reports "not sampled" for the rest; it must not fail


def load_samples(r: redis.Redis, batch_id: str) -> list[LoadSample]:
    return [
        LoadSample.model_validate_json(v) for v in r.lrange(keys.batch_load_key(batch_id), 0, -1)
    ]
