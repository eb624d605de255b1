"""The baseline node's model process (worker_models/modelserver.py), started for real with
the noop model: replies come back in the order the calls went, several in the pipe at
once; a process killed under its calls is started again and the calls are sent again."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import pytest

from dicec.errors import CallFailedError
from worker_models.modelserver import ModelServer
from worker_models.pools import Pool
from worker_models.wire import CallRequest

NOOP_POOL = Pool(name="modelserver-test", gpu_type="cpu", functions=["noop"])


def _request(value: str) -> CallRequest:
    return CallRequest(
        call_id=uuid.uuid4().hex,
        function="noop",
        params={"value": value},
        reply_to="local",
        sent_at=0.0,
        use_cache=False,
    )


def _served(value: str, server: ModelServer):
    return server.serve(_request(value), "test-node")


async def _with_server(body):
    server = ModelServer(NOOP_POOL)
    await server.start()
    try:
        return await body(server)
    finally:
        await server.close()


def test_calls_sent_together_are_answered_each_by_its_own_reply(redis_client):
    async def body(server: ModelServer):
        values = [f"call-{i}" for i in range(20)]
        replies = await asyncio.gather(*(_served(v, server) for v in values))
        return values, replies, server.restarts

    values, replies, restarts = asyncio.run(_with_server(body))
    assert all(r.ok for r in replies), [r.error for r in replies]
    assert [r.result for r in replies] == [{"value": v} for v in values]
    assert restarts == 0


def test_a_killed_model_process_is_started_again_and_its_calls_sent_again(redis_client):
    async def body(server: ModelServer):
        first = server.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        replies = await asyncio.gather(*(_served(f"after-{i}", server) for i in range(3)))
        return first, server.pid, server.restarts, replies

    first, second, restarts, replies = asyncio.run(_with_server(body))
    assert [r.result for r in replies] == [{"value": f"after-{i}"} for i in range(3)]
    assert restarts == 1 and second not in (None, first)


def test_a_call_under_which_the_process_dies_twice_fails_with_a_clear_error(redis_client):
    """A call that kills the process every time (here: the process killed again as soon
    as it is back) must not restart it forever."""

    async def body(server: ModelServer):
        original_start = server.start

        async def start_and_die() -> None:
            await original_start()
            assert server.pid is not None
            os.kill(server.pid, signal.SIGKILL)

        os.kill(server.pid or 0, signal.SIGKILL)
        server.start = start_and_die  # type: ignore[method-assign]
        with pytest.raises(CallFailedError, match="died twice under this call"):
            await _served("doomed", server)
        server.start = original_start  # type: ignore[method-assign]
        return await _served("alive again", server)

    reply = asyncio.run(_with_server(body))
    assert reply.ok and reply.result == {"value": "alive again"}
