"""Calls served in this process by loaded models: the monolith baseline's call backend
and the reference for "same output as through the queues" tests.

Each call goes through the same FunctionService code as on a pool worker (validation,
image resolution, the model), just without the queue in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dicec.errors import CallFailedError
from dicec.records import CallTrace
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result
from worker_models.service import FunctionService


class LocalCalls:
    """A CallBackend that runs each call on this process's models, one at a time."""

    def __init__(
        self,
        service: FunctionService,
        worker: str,
        on_trace: Callable[[CallTrace], None] | None = None,
    ) -> None:
        self.service = service
        self.worker = worker
        self.on_trace = on_trace
        self.reply_to = "local"

    async def call(self, prepared: PreparedCall, origin: CallOrigin) -> tuple[str, Any]:
        for data in prepared.uploads.values():
            self.service.store.put(data)
        request = prepared.request(self.reply_to, origin.batch_id, use_cache=False)
        queued = time.time()
        # Blocks the loop on purpose: a monolith node runs one call at a time.
        (reply,) = self.service.serve_chunk(prepared.spec.name, [request], self.worker)
        if self.on_trace:
            self.on_trace(
                CallTrace(
                    call_id=request.call_id,
                    batch_id=origin.batch_id,
                    task_index=origin.task_index,
                    function=prepared.spec.name,
                    pool=self.service.pool.name,
                    worker=self.worker,
                    chain_parent=origin.chain_parent,
                    queued_at=queued,
                    started_at=reply.started_at,
                    finished_at=reply.finished_at,
                    replied_at=time.time(),
                    ok=reply.ok,
                    error=reply.error,
                )
            )
        if not reply.ok:
            raise CallFailedError(f"{prepared.spec.name} failed: {reply.error_type}: {reply.error}")
        return request.call_id, check_result(prepared.spec, reply.result)
