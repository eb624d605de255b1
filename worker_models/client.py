"""A synchronous caller: one call through the queues, for `dicec call`, tests and tools.

Programs use the async hermod runtime instead; both share prepare_call/check_result.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from dicec import keys
from dicec.errors import CallFailedError, CallTimeoutError
from dicec.redis_conn import sync_client
from dicec.settings import Settings, get_settings
from worker_models.calls import check_result, prepare_call
from worker_models.catalogue import get_spec
from worker_models.imageref import ImageStore
from worker_models.wire import CallReply, CallRequest, call_message, decode_reply


def send_requests(function: str, requests: list[CallRequest]) -> None:
    """One Celery message carrying these requests to the function's queue."""
    from worker_models.app import app

    app.send_task(keys.task_name_for(function), **call_message(function, requests))


BLOCK_CHUNK_S = 2.0


class SyncCaller:
    def __init__(self, settings: Settings | None = None, r: redis.Redis | None = None) -> None:
        self.settings = settings or get_settings()
        self.redis = r or sync_client(self.settings)
        self.store = ImageStore(self.redis)
        self.reply_to = keys.reply_key(f"sync-{uuid.uuid4().hex}")

    def call_reply(self, name: str, timeout_s: float | None = None, **kwargs: Any) -> CallReply:
        (reply,) = self.call_replies(name, 1, timeout_s, **kwargs)
        return reply

    def call_replies(
        self, name: str, copies: int, timeout_s: float | None = None, **kwargs: Any
    ) -> list[CallReply]:
        """`copies` identical calls in one message (one chunk for a batching pool); replies
        in call order. Each copy has its own call id, so none is answered from another."""
        prepared = prepare_call(name, kwargs)
        for data in prepared.uploads.values():
            self.store.put(data)
        use_cache = self.settings.cache_enabled
        requests = [prepared.request(self.reply_to, use_cache=use_cache) for _ in range(copies)]
        send_requests(name, requests)
        wanted = {r.call_id for r in requests}
        replies: dict[str, CallReply] = {}
        wait_s = timeout_s or self.settings.call_timeout_s
        deadline = time.monotonic() + wait_s
        while len(replies) < len(wanted) and (left := deadline - time.monotonic()) > 0:
            # Short blocking reads: a BLPOP longer than the socket timeout would break.
            item = self.redis.blpop([self.reply_to], timeout=min(left, BLOCK_CHUNK_S))
            if item is None:
                continue
            reply = decode_reply(item[1])
            if reply.call_id in wanted:
                replies[reply.call_id] = reply
        if len(replies) < len(wanted):
            raise CallTimeoutError(
                f"{name}: {len(wanted) - len(replies)} of {len(wanted)} call(s) had no reply "
                f"within {wait_s:.0f} s (is a pool serving queue {keys.queue_for(name)!r} "
                "running?)"
            )
        return [replies[r.call_id] for r in requests]

    def call(self, name: str, timeout_s: float | None = None, **kwargs: Any) -> Any:
        reply = self.call_reply(name, timeout_s, **kwargs)
        if not reply.ok:
            raise CallFailedError(
                f"{name} failed on {reply.worker or 'a worker'}: {reply.error_type}: {reply.error}"
            )
        return check_result(get_spec(name), reply.result)
