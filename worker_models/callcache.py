"""The call cache: a content-addressed memo of results in Redis.

Key = sha256 of (function, checkpoint id, parameters with images as content-hash
references). A result is only ever served for the same function, the same checkpoint and
the same parameters; identical calls in a batch (the paper's batch repeats each image
about 33 times) are computed once. Entries expire after CACHE_TTL_S.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis

from dicec import keys


def cache_digest(function: str, checkpoint_id: str, params: dict[str, Any]) -> str:
    blob = json.dumps(
        [function, checkpoint_id, params], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class CallCache:
    def __init__(self, r: redis.Redis, ttl_s: int = keys.CACHE_TTL_S) -> None:
        self.redis = r
        self.ttl_s = ttl_s

    def get_many(self, digests: list[str]) -> list[dict[str, Any] | None]:
        if not digests:
            return []
        raw = self.redis.mget([keys.cache_key(d) for d in digests])
        return [json.loads(r) if r is not None else None for r in raw]

    def put_many(self, entries: dict[str, dict[str, Any]]) -> None:
        if not entries:
            return
        pipe = self.redis.pipeline(transaction=False)
        for digest, result in entries.items():
            pipe.set(keys.cache_key(digest), json.dumps(result), ex=self.ttl_s)
        pipe.execute()
