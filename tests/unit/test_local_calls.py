"""In-process calls (the baseline node's backend): with a model thread, the model runs on
it, and its reply comes back to the program as without one."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from orchestrator.dispatch.local_calls import LocalCalls
from orchestrator.program.hermod import CallOrigin
from worker_models.calls import prepare_call
from worker_models.modelthread import ModelThread
from worker_models.wire import CallReply


class StubService:
    """Serves every call with a fixed answer and notes the thread that served it."""

    def __init__(self) -> None:
        self.pool = SimpleNamespace(name="baseline")
        self.store = SimpleNamespace(put=lambda data: None)
        self.threads: list[int] = []

    def serve_chunk(self, function: str, chunk: list, worker: str) -> list[CallReply]:
        self.threads.append(threading.get_ident())
        now = time.time()
        return [
            CallReply(
                call_id=req.call_id,
                ok=True,
                result={"answer": "red"},
                pool="baseline",
                worker=worker,
                started_at=now,
                finished_at=now,
            )
            for req in chunk
        ]


def _call(calls: LocalCalls) -> object:
    prepared = prepare_call("blip", {"image": "img:" + "0" * 64, "question": "What colour?"})
    _, result = asyncio.run(calls.call(prepared, CallOrigin(batch_id="b", task_index=0)))
    return result


@pytest.mark.parametrize("with_thread", [False, True])
def test_the_model_runs_on_the_model_thread_when_given_one(with_thread):
    service = StubService()
    model_thread = ModelThread() if with_thread else None
    traces: list = []
    calls = LocalCalls(service, "node-1", traces.append, model_thread)  # type: ignore[arg-type]
    try:
        result = _call(calls)
    finally:
        if model_thread:
            model_thread.close()
    assert result == {"answer": "red"}
    assert [t.function for t in traces] == ["blip"]
    (served_on,) = service.threads
    assert (served_on != threading.get_ident()) == with_thread
