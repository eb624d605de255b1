"""The claims batch end to end: scripts/submit_batch.py as a user runs it, real pools."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from dicec import keys
from dicec.records import TaskRecord
from tests.conftest import ROOT, TEST_POOLS

SUBMIT = [sys.executable, str(ROOT / "scripts" / "submit_batch.py")]
CLAIMS = ROOT / "examples" / "claims_distributed.py"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from orchestrator.batch.claims_images import generate_claims_images

    folder = tmp_path_factory.mktemp("claims-images")
    generate_claims_images(folder)
    return folder


def _submit(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [*SUBMIT, "--pools", str(TEST_POOLS), "--local", "no", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        **kwargs,
    )


def _records(redis_client, batch_id: str) -> dict[int, TaskRecord]:
    raw = redis_client.hgetall(keys.batch_tasks_key(batch_id))
    return {int(k): TaskRecord.model_validate_json(v) for k, v in raw.items()}


def _cleanup(redis_client, batch_id: str) -> None:
    redis_client.delete(
        keys.batch_tasks_key(batch_id),
        keys.batch_calls_key(batch_id),
        keys.batch_meta_key(batch_id),
    )
    redis_client.zrem(keys.batch_index_key(), batch_id)


def test_1000_task_claims_batch_completes_each_task_once(pools, redis_client, images, tmp_path):
    batch_id = f"test-{uuid.uuid4().hex[:8]}"
    export = tmp_path / "results.jsonl"
    proc = _submit(
        "--program",
        str(CLAIMS),
        "--images",
        str(images),
        "--tasks",
        "1000",
        "--seed",
        "11",
        "--json",
        "--batch-id",
        batch_id,
        "--export",
        str(export),
    )
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()[-3000:]
    summary = json.loads(out)
    try:
        assert summary["tasks"] == 1000 and summary["missing"] == 0
        assert summary["ok"] + summary["errors"] == 1000
        records = _records(redis_client, batch_id)
        assert sorted(records) == list(range(1000))
        assert all((r.status == "ok") != (r.error is not None) for r in records.values())
        lines = export.read_text().splitlines()
        assert len(lines) == 1000 and len({json.loads(x)["index"] for x in lines}) == 1000
        assert len({r.image for r in records.values()}) > 20  # spread over the 30 images
        assert redis_client.hlen(keys.batch_calls_key(batch_id)) >= 1000
    finally:
        _cleanup(redis_client, batch_id)


def test_killed_orchestrator_resumes_without_recomputing(pools, redis_client, images):
    batch_id = f"test-resume-{uuid.uuid4().hex[:8]}"
    tasks = 200
    proc = _submit(
        "--program",
        str(CLAIMS),
        "--images",
        str(images),
        "--tasks",
        str(tasks),
        "--seed",
        "5",
        "--concurrency",
        "2",
        "--no-cache",
        "--batch-id",
        batch_id,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while redis_client.hlen(keys.batch_tasks_key(batch_id)) < 10:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        before = _records(redis_client, batch_id)
        assert 10 <= len(before) < tasks, "kill the orchestrator mid-batch"

        resumed = _submit("--resume", batch_id, "--json", "--no-cache")
        out, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err.decode()[-3000:]
        summary = json.loads(out)
        after = _records(redis_client, batch_id)
        assert sorted(after) == list(range(tasks))
        assert summary["ran_now"] == tasks - len(before)
        for index, record in before.items():  # finished tasks were not recomputed
            assert after[index] == record
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _cleanup(redis_client, batch_id)
