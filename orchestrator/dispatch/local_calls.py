"""Calls served on this node by loaded models: the monolith baseline's call backend and
the reference for "same output as through the queues" tests.

Each call goes through the same FunctionService code as on a pool worker (validation,
image resolution, the model), just without the queue in between: in this process
(`LocalCalls.in_process`, one call at a time, blocking the loop), or in the node's model
process (worker_models.modelserver: the loop stays free for the node's other task).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from dicec.errors import CallFailedError
from dicec.records import CallTrace
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result
from worker_models.imageref import ImageStore
from worker_models.pools import Pool
from worker_models.service import FunctionService
from worker_models.wire import CallReply, CallRequest


class CallServer(Protocol):
    """Where the models are: serves one call and returns its reply."""

    pool: Pool

    async def serve(self, request: CallRequest, worker: str) -> CallReply: ...


class InProcessModels:
    """A FunctionService of this process as a CallServer (it blocks the loop meanwhile)."""

    def __init__(self, service: FunctionService) -> None:
        self.service = service
        self.pool = service.pool

    async def serve(self, request: CallRequest, worker: str) -> CallReply:
        (reply,) = self.service.serve_chunk(request.function, [request], worker)
        return reply


class LocalCalls:
    """A CallBackend that runs each call on this node's models."""

    def __init__(
        self,
        server: CallServer,
        store: ImageStore,
        worker: str,
        on_trace: Callable[[CallTrace], None] | None = None,
    ) -> None:
        self.server = server
        self.store = store  # a call's uploads go to Redis, where the models read them
        self.worker = worker
        self.on_trace = on_trace
        self.reply_to = "local"

    @classmethod
    def in_process(
        cls,
        service: FunctionService,
        worker: str,
        on_trace: Callable[[CallTrace], None] | None = None,
    ) -> LocalCalls:
        return cls(InProcessModels(service), service.store, worker, on_trace)

    async def call(self, prepared: PreparedCall, origin: CallOrigin) -> tuple[str, Any]:
        for data in prepared.uploads.values():
            self.store.put(data)
        request = prepared.request(self.reply_to, origin.batch_id, use_cache=False)
        queued = time.time()
        reply = await self.server.serve(request, self.worker)
        if self.on_trace:
            self.on_trace(
                CallTrace(
                    call_id=request.call_id,
                    batch_id=origin.batch_id,
                    task_index=origin.task_index,
                    function=prepared.spec.name,
                    pool=self.server.pool.name,
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
