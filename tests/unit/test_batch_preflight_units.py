"""The pieces of the batch preflight that need no process: which functions a program
calls, and which pool a plain `celery worker -Q ...` is."""

from __future__ import annotations

import pytest

from dicec.errors import ConfigError
from orchestrator.program.called import functions_called
from tests.conftest import ROOT, TEST_POOLS
from worker_models.pools import load_pools
from worker_models.queue_pool import pool_for_queues


def test_functions_called_by_hermod_and_imagepatch_programs() -> None:
    claims = (ROOT / "examples" / "claims_distributed.py").read_text()
    assert functions_called(claims) == {"glip", "blip", "xvlm"}
    litter = (ROOT / "examples" / "litter_imagepatch_serial.py").read_text()
    assert functions_called(litter) <= {"glip", "blip", "xvlm", "depth"}
    assert functions_called(litter)
    # Without ImagePatch, a method named `find` is a string's, not a model call.
    assert functions_called("def execute_query(x):\n    return x.find('a')\n") == set()


def test_pool_for_queues_narrows_the_hosting_pool() -> None:
    pools = load_pools(str(TEST_POOLS))
    pool = pool_for_queues(["xvlm"], pools)
    assert pool is not None and pool.name == "language" and pool.functions == ["xvlm"]
    assert pool.batching == {}
    blip = pool_for_queues(["blip"], pools)
    assert blip is not None and set(blip.batching) == {"blip"}
    assert pool_for_queues(["echo"], pools) is None  # the benchmarks' plain worker
    with pytest.raises(ConfigError, match="hosts glip, blip together"):
        pool_for_queues(["glip", "blip"], pools)
    with pytest.raises(ConfigError, match="bogus serve no function"):
        pool_for_queues(["bogus"], pools)


def test_pool_watch_reports_an_unserved_function_and_gives_up(redis_client) -> None:
    """The watch reads the real registry: a heartbeat for glip only leaves blip unserved."""
    import time

    import redis

    from dicec import keys
    from orchestrator.batch.poolwatch import _Watch
    from worker_models.registry import WorkerHeartbeat

    beat = WorkerHeartbeat(
        pool="watch-test", worker="w@h", functions=["glip"], pid=1, gpu_type="A6000",
        started_at=time.time(), beat_at=time.time(),
    )  # fmt: skip
    # A DB of its own: the session's pool workers (integration tests) serve every function
    # in the tests' DB, and would leave nothing unserved.
    same_server = {
        k: v
        for k, v in redis_client.connection_pool.connection_kwargs.items()
        if k in ("host", "port", "username", "password")
    }
    redis_client = redis.Redis(**same_server, db=15)
    key = keys.registry_worker_key("watch-test", "w@h")
    redis_client.set(key, beat.model_dump_json(), ex=keys.REGISTRY_TTL_S)
    said: list[list[str]] = []
    given_up: list[list[str]] = []
    try:
        watch = _Watch(redis_client, ["blip", "glip"], said.append, (0.0, given_up.append))
        watch.check()
        watch.check()  # no change: said once
        assert said == [["blip"]] and given_up == [["blip"]]
        redis_client.delete(key)
        watch.check()
        assert said[-1] == ["blip", "glip"]
    finally:
        redis_client.delete(key)
