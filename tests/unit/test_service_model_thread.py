"""A service's backends run on its model thread (pool workers and the baseline node get
one from build_service_for_pool); a service without one runs them in the caller. The
replies are the same either way, a failing call included."""

from __future__ import annotations

import threading
import uuid

import pytest
from PIL import Image

from worker_models.backends.noop import NoopBackend
from worker_models.catalogue import Params, Result
from worker_models.modelthread import ModelThread
from worker_models.pools import Pool
from worker_models.service import FunctionService
from worker_models.wire import CallRequest


class ThreadNotingNoop(NoopBackend):
    """The real noop backend, noting the thread of each pass; "boom" fails its pass."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        self.threads.append(threading.get_ident())
        if any(getattr(p, "value", None) == "boom" for p in params):
            raise RuntimeError("boom")
        return super().run_batch(params, images)


def _request(payload: str) -> CallRequest:
    return CallRequest(
        call_id=uuid.uuid4().hex,
        function="noop",
        params={"value": payload},
        reply_to="dicec:reply:test",
        sent_at=0.0,
        use_cache=False,
    )


@pytest.mark.parametrize("with_thread", [False, True])
def test_backends_run_on_the_model_thread_and_replies_are_the_same(with_thread):
    backend = ThreadNotingNoop()
    pool = Pool(name="threadtest", gpu_type="cpu", functions=["noop"])
    model_thread = ModelThread() if with_thread else None
    # no image, no cache: neither the image store nor Redis is used
    service = FunctionService(pool, "cpu", {"noop": backend}, None, None, model_thread=model_thread)
    try:
        ok, failed = service.serve_chunk("noop", [_request("a"), _request("boom")], "w")
    finally:
        if model_thread:
            model_thread.close()
    assert ok.ok and ok.result == {"value": "a"}
    assert not failed.ok and failed.error == "boom"
    caller = threading.get_ident()
    assert backend.threads and all((t != caller) == with_thread for t in backend.threads)
