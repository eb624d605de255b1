"""Batch operations with real processes: preflight, exit codes, retry, cancel and resume,
results files, unlike reports. Each test talks to its own redis-server (so that no
other test's pools count as live) and real worker processes of tests/data/pools-test.yaml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dicec import keys
from dicec.records import BatchMeta, TaskRecord
from orchestrator.batch.localpools import LocalPools
from tests.conftest import ROOT, TEST_POOLS
from tests.support.redis_server import RedisServer, private_redis
from worker_models.pools import load_pools

SUBMIT = [sys.executable, str(ROOT / "scripts" / "submit_batch.py")]
DICEC = [sys.executable, "-m", "scripts.cli.main"]
CLAIMS = ROOT / "examples" / "claims_distributed.py"
REFUSAL_WITHIN_S = 10.0
WIDTHS = range(20, 26)  # image widths; the flaky program fails on the odd ones
FLAKY = """import hermod


async def execute_query(image_filename):
    width = int(image_filename[-6:-4])
    reply = await hermod.call("noop", value=width)
    if reply["value"] % 2:
        raise ValueError(f"odd width {width}")
    return reply["value"]
"""
SLOW = """import hermod


async def execute_query(image_filename):
    reply = await hermod.call("noop", value=image_filename, sleep_ms=200)
    return reply["value"]
"""
FANOUT = """import asyncio

import hermod


async def execute_query(image_filename):
    replies = await asyncio.gather(*(hermod.call("noop", value=i) for i in range(5)))
    return sum(r["value"] for r in replies)
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with private_redis(appendonly=False) as running:
        yield running


@pytest.fixture(scope="module")
def env(server: RedisServer) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": server.url,
        "DICEC_EMBEDDED_REDIS": "false",
    }


@pytest.fixture(scope="module")
def language_pool(server: RedisServer, env: dict[str, str], checkpoint_dir) -> Iterator[None]:
    """The `language` pool (blip, xvlm, noop) as a real worker process: one pool running,
    as after `dicec worker --pool vqa` in the README."""
    running = LocalPools(
        load_pools(TEST_POOLS),
        TEST_POOLS,
        server.client(),
        env=env,
        log_dir=ROOT / "var" / "test-logs",
    )
    running.start(only=["language"])
    try:
        running.wait_ready()
        yield
    finally:
        running.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("batch-ops-images")
    for width in WIDTHS:
        Image.new("RGB", (width, 16), (width * 5, 0, 0)).save(folder / f"img_{width}.png")
    return folder


def _program(tmp_path: Path, source: str, name: str = "program.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def _run(
    argv: list[str], env: dict[str, str], timeout_s: float = 240.0
) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
    )


def _submit(
    env: dict[str, str], *args: str, timeout_s: float = 240.0
) -> subprocess.CompletedProcess:
    return _run([*SUBMIT, "--pools", str(TEST_POOLS), *args], env, timeout_s)


def _records(r: redis.Redis, batch_id: str) -> dict[int, TaskRecord]:
    raw = r.hgetall(keys.batch_tasks_key(batch_id))
    return {int(k): TaskRecord.model_validate_json(v) for k, v in raw.items()}


def _meta(r: redis.Redis, batch_id: str) -> BatchMeta:
    return BatchMeta.model_validate_json(r.get(keys.batch_meta_key(batch_id)))


def test_readme_order_missing_pools_refused_fast_or_started(
    server: RedisServer,
    env: dict[str, str],
    language_pool: None,
    tmp_path: Path,
) -> None:
    from orchestrator.batch.claims_images import generate_claims_images

    claims_images = tmp_path / "claims"
    generate_claims_images(claims_images, count=4)
    started = time.monotonic()
    refused = _submit(
        env, "--program", str(CLAIMS), "--images", str(claims_images), "--tasks", "4",
        "--local", "no", "--batch-id", "readme-refused",
    )  # fmt: skip
    elapsed_s = time.monotonic() - started
    assert refused.returncode == 2, refused.stderr
    assert elapsed_s < REFUSAL_WITHIN_S
    assert "no live worker serves glip (queue glip)" in refused.stderr
    assert "dicec worker --pool vision" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert server.client().get(keys.batch_meta_key("readme-refused")) is None  # no task ran
    # --local auto starts exactly the missing pool; the batch then completes.
    auto = _submit(
        env, "--program", str(CLAIMS), "--images", str(claims_images), "--tasks", "4",
        "--local", "auto", "--json",
    )  # fmt: skip
    assert auto.returncode == 0, auto.stderr
    assert "starting pool(s) vision of" in auto.stderr
    summary = json.loads(auto.stdout)
    assert summary["ok"] == 4 and summary["errors"] == 0


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def execute_query(image_filename)\n    return 1\n", "does not parse"),
        (
            "import hermod\n\nasync def execute_query(image_filename):\n"
            "    return await hermod.call('glipp', image=image_filename, object_name='car')\n",
            "unknown function 'glipp'",
        ),
        (
            "import hermod\n\nasync def execute_query(image_filename):\n"
            "    return await hermod.call('glip', image=image_filename, thing='car')\n",
            "glip has no parameter 'thing'",
        ),
    ],
    ids=["syntax-error", "unknown-function", "unknown-parameter"],
)
def test_bad_programs_are_refused_before_any_task(
    server: RedisServer,
    env: dict[str, str],
    images: Path,
    tmp_path: Path,
    source: str,
    expected: str,
) -> None:
    batch_id = f"bad-{expected.split()[0]}-{time.monotonic_ns()}"
    done = _submit(
        env, "--program", str(_program(tmp_path, source)), "--images", str(images),
        "--tasks", "50", "--local", "no", "--batch-id", batch_id,
    )  # fmt: skip
    assert done.returncode == 2
    assert expected in done.stderr and "refused before any task" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert server.client().get(keys.batch_meta_key(batch_id)) is None


def test_exit_codes_retry_errors_and_results_files(
    server: RedisServer,
    env: dict[str, str],
    language_pool: None,
    images: Path,
    tmp_path: Path,
) -> None:
    r = server.client()
    ok = _submit(
        env, "--program", str(_program(tmp_path, FANOUT, "fanout.py")), "--images", str(images),
        "--tasks", "6", "--local", "no", "--json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    flaky = _program(tmp_path, FLAKY, "flaky.py")
    batch_id = f"flaky-{time.monotonic_ns()}"
    failed = _submit(
        env, "--program", str(flaky), "--images", str(images), "--tasks", "24",
        "--local", "no", "--json", "--batch-id", batch_id,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    summary = json.loads(failed.stdout)
    before = _records(r, batch_id)
    odd = {i for i, t in before.items() if int(t.image[-6:-4]) % 2}
    assert (
        odd
        and summary["errors"] == len(odd)
        and summary["errors_by_type"] == {"ValueError": len(odd)}
    )
    # retry --errors runs exactly the failed tasks again and keeps the others' records.
    retried = _run([*DICEC, "batch", "retry", batch_id, "--errors", "--local", "no", "--json"], env)
    assert retried.returncode == 1, retried.stderr  # they fail again: same program
    again = json.loads(retried.stdout)
    assert again["ran_now"] == len(odd) and again["errors"] == len(odd)
    after = _records(r, batch_id)
    assert set(after) == set(before)
    for index in set(before) - odd:
        assert after[index] == before[index]  # untouched
    for index in odd:
        assert after[index].started_at > before[index].started_at  # ran again
    # Results as files: Parquet reads back with pyarrow, CSV and JSONL with one row a task.
    import pyarrow.parquet as pq

    for fmt in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"results.{fmt}"
        done = _run([*DICEC, "batch", "results", batch_id, "--format", fmt, "-o", str(out)], env)
        assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert [row["index"] for row in table] == sorted(after)
    assert {row["index"] for row in table if row["status"] == "error"} == odd
    assert json.loads(next(row for row in table if row["status"] == "ok")["value"]) % 2 == 0
    assert len((tmp_path / "results.csv").read_text().splitlines()) == len(after) + 1
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == len(after)
    status = _run([*DICEC, "batch", "status", batch_id], env)
    assert status.returncode == 0 and "ValueError" in status.stdout and "noop" in status.stdout
    unknown = _run([*DICEC, "batch", "status", "no-such-batch"], env)
    assert unknown.returncode == 2 and "no batch 'no-such-batch'" in unknown.stderr


def test_cancel_then_resume_loses_nothing_and_computes_nothing_twice(
    server: RedisServer,
    env: dict[str, str],
    language_pool: None,
    images: Path,
    tmp_path: Path,
) -> None:
    r = server.client()
    batch_id = f"cancel-{time.monotonic_ns()}"
    tasks = 40
    proc = subprocess.Popen(
        [
            *SUBMIT, "--pools", str(TEST_POOLS), "--program", str(_program(tmp_path, SLOW)),
            "--images", str(images), "--tasks", str(tasks), "--concurrency", "2",
            "--local", "no", "--no-cache", "--json", "--batch-id", batch_id,
        ],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while r.hlen(keys.batch_tasks_key(batch_id)) < 4:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)  # waiting for another process's progress
    cancel = _run([*DICEC, "batch", "cancel", batch_id], env)
    assert cancel.returncode == 0, cancel.stderr
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # stopped with tasks missing
    first = json.loads(out)
    assert 0 < first["ok"] < tasks and first["missing"] == tasks - first["ok"]
    assert _meta(r, batch_id).status == "cancelled"
    before = _records(r, batch_id)
    resumed = _submit(env, "--resume", batch_id, "--local", "no", "--json")
    assert resumed.returncode == 0, resumed.stderr
    second = json.loads(resumed.stdout)
    assert second["ran_now"] == tasks - len(before)  # only what had no record
    after = _records(r, batch_id)
    assert sorted(after) == list(range(tasks)) and all(t.status == "ok" for t in after.values())
    assert all(after[i] == before[i] for i in before)  # nothing computed twice
    # Each task's one call was computed exactly once over both runs.
    traces = [json.loads(v) for v in r.hvals(keys.batch_calls_key(batch_id))]
    assert sorted(t["task_index"] for t in traces) == list(range(tasks))
    assert _meta(r, batch_id).status == "finished"


def test_report_vs_refuses_a_cached_batch_against_an_uncached_one(
    server: RedisServer,
    env: dict[str, str],
    language_pool: None,
    images: Path,
    tmp_path: Path,
) -> None:
    program = str(_program(tmp_path, FANOUT, "fanout.py"))
    ids = {"uncached": f"uncached-{time.monotonic_ns()}", "cached": f"cached-{time.monotonic_ns()}"}
    for label, extra in (("uncached", ["--no-cache"]), ("cached", [])):
        done = _submit(
            env, "--program", program, "--images", str(images), "--tasks", "12",
            "--local", "no", "--batch-id", ids[label], *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    report = [*DICEC, "report", ids["cached"], "--vs", ids["uncached"], "-o", str(tmp_path / "r")]
    refused = _run(report, env)
    assert refused.returncode == 2
    assert "refusing to compare the cost of unlike batches" in refused.stderr
    assert "cache on" in refused.stderr and "cache off" in refused.stderr
    allowed = _run([*report, "--allow-unlike"], env)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.lstrip().startswith("UNLIKE BATCHES (--allow-unlike)")
    assert ids["cached"] in allowed.stdout and ids["uncached"] in allowed.stdout  # full ids
    assert (tmp_path / "r" / "comparison.png").stat().st_size > 5_000
