"""Redis connections built from settings: password and TLS honoured in one place."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio as aioredis

from dicec.settings import Settings, get_settings

_URL_PASSWORD = re.compile(r"^([a-z+]+://[^:@/]*:)[^@]*(@)")


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.redis_password:
        kwargs["password"] = settings.redis_password
    if settings.redis_url.startswith("rediss://"):
        kwargs["ssl_cert_reqs"] = settings.redis_tls_cert_reqs
        if settings.redis_tls_ca_certs:
            kwargs["ssl_ca_certs"] = settings.redis_tls_ca_certs
    return kwargs


def sync_client(settings: Settings | None = None) -> redis.Redis:
    settings = settings or get_settings()
    return redis.Redis.from_url(settings.redis_url, **connection_kwargs(settings))


def async_client(settings: Settings | None = None) -> aioredis.Redis:
    settings = settings or get_settings()
    return aioredis.Redis.from_url(settings.redis_url, **connection_kwargs(settings))


def celery_url(settings: Settings) -> str:
    """Broker/backend URL for Celery; the password travels in the URL Celery understands
    (percent-encoded: kombu decodes it, so any character is safe)."""
    url = settings.redis_url
    if settings.redis_password and "@" not in url and "://" in url:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://:{quote(settings.redis_password, safe='')}@{rest}"
    return url


def redacted_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***: for messages and logs."""
    return _URL_PASSWORD.sub(r"\1***\2", url)
