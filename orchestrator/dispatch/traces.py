"""Call traces from the dispatcher: one per call id, and one per follower that shared
a call in flight (billed as cached: it computed nothing)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dicec.records import CallTrace
from worker_models.wire import CallReply

if TYPE_CHECKING:
    from orchestrator.dispatch.dispatcher import InFlight, TraceSink


def emit_traces(
    on_trace: TraceSink,
    inflight: InFlight,
    reply: CallReply | None,
    error: str | None = None,
    broker_site: str | None = None,
) -> None:
    now = time.time()
    base = dict(
        function=inflight.prepared.spec.name,
        group_id=inflight.group_id,
        replied_at=now,
        attempts=inflight.attempts,
    )
    if reply is not None:
        base.update(
            pool=reply.pool,
            worker=reply.worker,
            started_at=reply.started_at,
            finished_at=reply.finished_at,
            batch_size=reply.batch_size,
            cached=reply.cached,
            ok=reply.ok,
            error=reply.error,
            site=reply.site,
            image_bytes=reply.image_bytes,
            transfer_bytes=shipped_bytes(reply, broker_site),
        )
    else:
        base.update(ok=False, error=error)
    origin = inflight.origin
    on_trace(
        CallTrace(
            call_id=inflight.request.call_id,
            batch_id=origin.batch_id,
            task_index=origin.task_index,
            chain_parent=origin.chain_parent,
            queued_at=inflight.queued_at,
            **base,
        )
    )
    for call_id, follower, queued_at in inflight.followers:
        on_trace(
            CallTrace(
                call_id=call_id,
                batch_id=follower.batch_id,
                task_index=follower.task_index,
                chain_parent=follower.chain_parent,
                queued_at=queued_at,
                **{
                    **base,
                    "cached": True,
                    "pool": None,
                    "worker": None,
                    "started_at": None,
                    "finished_at": None,
                    "transfer_bytes": 0,
                },
            )
        )


def shipped_bytes(reply: CallReply, broker_site: str | None) -> int:
    """Bytes that crossed a link to this call: the image bytes its worker read from Redis,
    if it is at another site than Redis (the broker's)."""
    if reply.site is None or broker_site is None or reply.site == broker_site:
        return 0
    return reply.fetched_bytes
