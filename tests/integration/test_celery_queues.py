"""A worker started the Celery way, `celery -A worker_models.app worker -Q xvlm` (no
DICEC_POOL), derives its pool from its queues and answers calls; one whose queues no
pool serves refuses to start with one line. Own redis-server: no other pool answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_POOLS
from tests.support.redis_server import RedisServer, private_redis
from worker_models.registry import live_workers

CELERY = [sys.executable, "-m", "celery", "-A", "worker_models.app", "worker"]
START_TIMEOUT_S = 180.0


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with private_redis(appendonly=False) as running:
        yield running


def _env(server: RedisServer, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": server.url}
    env.pop("DICEC_POOL", None)
    env.update(
        DICEC_POOLS_FILE=str(TEST_POOLS),
        DICEC_EMBEDDED_REDIS="false",
        DICEC_READY_FILE=str(tmp_path / "ready"),
    )
    return env


def test_celery_worker_on_the_xvlm_queue_answers_an_xvlm_call(
    server: RedisServer,
    tmp_path: Path,
    checkpoint_dir: Path,
) -> None:
    env = _env(server, tmp_path)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [*CELERY, "-Q", "xvlm", "-c", "1", "-n", "plain-xvlm@%h", "-l", "INFO"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (beats := live_workers(server.client())):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker never published its heartbeat"
            time.sleep(0.25)  # models load in the worker's start-up hook
        # The pool that hosts xvlm in the pools file, narrowed to the queue it consumes.
        assert [(b.pool, b.functions) for b in beats] == [("language", ["xvlm"])]
        from PIL import Image

        Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "car.png")
        call = subprocess.run(
            [sys.executable, "-m", "scripts.cli.main", "call", "xvlm", "--image",
             str(tmp_path / "car.png"), "-p", "object_name=car", "-p", "property=red"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert call.returncode == 0, call.stderr
        reply = json.loads(call.stdout)
        assert reply["ok"] and reply["pool"] == "language"
        assert isinstance(reply["result"]["result"], bool)
        # The main process's Celery heartbeat keeps the liveness file fresh (pod probe).
        live = tmp_path / "ready.live"
        assert live.exists() and time.time() - live.stat().st_mtime < 30
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
        log.close()


@pytest.mark.parametrize(
    ("queues", "expected"),
    [("bogus", "queue(s) bogus serve no function"), ("glip,blip", "hosts glip, blip together")],
)
def test_celery_worker_refuses_queues_no_pool_serves(
    server: RedisServer, tmp_path: Path, queues: str, expected: str
) -> None:
    done = subprocess.run(
        [*CELERY, "-Q", queues, "-l", "WARNING"],
        env=_env(server, tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr
