"""Calls served in this process by loaded models: the monolith baseline's call backend
and the reference for "same output as through the queues" tests.

Each call goes through the same FunctionService code as on a pool worker (validation,
image resolution, the model), just without the queue in between.

The whole call runs on the service's model thread, and the event loop awaits it: calls
stay one at a time (the service, its image store included, is used from that one thread),
and the loop meanwhile serves the other tasks of a baseline node (their jailed children
starting, their next calls arriving), so their calls are ready the moment this one ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dicec.errors import CallFailedError
from dicec.records import CallTrace
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result
from worker_models.service import FunctionService
from worker_models.wire import CallReply, CallRequest

T = TypeVar("T")


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

    async def on_service_thread(self, fn: Callable[[], T]) -> T:
        """`fn()` (which uses the service) on its model thread, awaited; a service without
        one runs it here, on the loop."""
        model_thread = self.service.model_thread
        if model_thread is None:
            return fn()
        return await asyncio.wrap_future(model_thread.submit(fn))

    async def call(self, prepared: PreparedCall, origin: CallOrigin) -> tuple[str, Any]:
        request = prepared.request(self.reply_to, origin.batch_id, use_cache=False)
        queued = time.time()
        (reply,) = await self.on_service_thread(lambda: self._serve(prepared, request))
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

    def _serve(self, prepared: PreparedCall, request: CallRequest) -> list[CallReply]:
        for data in prepared.uploads.values():
            self.service.store.put(data)
        return self.service.serve_chunk(prepared.spec.name, [request], self.worker)
