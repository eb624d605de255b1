"""`dicec report`: hand-made batches written to the real Redis, report files checked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from dicec import keys
from dicec.records import BatchMeta, CallTrace, LoadSample, TaskRecord
from orchestrator.cost.accounting import load_batch
from orchestrator.cost.report import make_report

T0 = 1_700_000_000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_batch(
    r: redis.Redis, batch_id: str, mode: str, seconds_per_task: float, sampled: bool
) -> None:
    tasks = 60  # more than the Gantt chart's 50
    prices = {"baseline": 2.2} if mode == "baseline" else {"detect": 0.8, "match": 0.5}
    replicas = {"baseline": 1} if mode == "baseline" else {"detect": 1, "match": 1}
    meta = BatchMeta(
        batch_id=batch_id,
        mode=mode,  # type: ignore[arg-type]
        program_name="claims.py",
        program_sha256="0" * 64,
        program_source="",
        images_dir="/images",
        images=["a.png"] * tasks,
        tasks=tasks,
        seed=0,
        pools_file="test",
        created_at=T0,
        finished_at=T0 + tasks * seconds_per_task,
        status="finished",
        pool_prices=prices,
        pool_replicas=replicas,
    )
    records, traces = {}, {}
    for i in range(tasks):
        start = T0 + i * seconds_per_task
        records[str(i)] = TaskRecord(
            batch_id=batch_id,
            index=i,
            image="a.png",
            status="ok" if i % 7 else "error",
            started_at=start,
            finished_at=start + seconds_per_task,
            calls=2,
        ).model_dump_json()
        for j, (fn, pool) in enumerate((("glip", "detect"), ("xvlm", "match"))):
            pool = "baseline" if mode == "baseline" else pool
            begin = start + j * seconds_per_task / 2
            trace = CallTrace(
                call_id=f"{batch_id}-{i}-{j}",
                batch_id=batch_id,
                task_index=i,
                function=fn,
                pool=pool,
                worker=f"{pool}-0",
                group_id=f"g{i}-{j}",
                queued_at=begin,
                started_at=begin + 0.01,
                finished_at=begin + seconds_per_task / 2,
                replied_at=begin + seconds_per_task / 2 + 0.001,
            )
            traces[trace.call_id] = trace.model_dump_json()
    pipe = r.pipeline()
    pipe.set(keys.batch_meta_key(batch_id), meta.model_dump_json())
    pipe.hset(keys.batch_tasks_key(batch_id), mapping=records)
    pipe.hset(keys.batch_calls_key(batch_id), mapping=traces)
    if sampled:
        for k in range(5):
            sample = LoadSample(t=T0 + k, host="h", cpu_percent=20.0 * k, gpu_percent=10.0)
            pipe.rpush(keys.batch_load_key(batch_id), sample.model_dump_json())
    pipe.execute()


@pytest.fixture
def batches(redis_client: redis.Redis) -> Iterator[tuple[str, str]]:
    run = uuid.uuid4().hex[:10]
    base_id, dist_id = f"test-report-base-{run}", f"test-report-dist-{run}"
    _write_batch(redis_client, base_id, "baseline", 1.0, sampled=False)
    _write_batch(redis_client, dist_id, "distributed", 0.5, sampled=True)
    yield base_id, dist_id
    for batch_id in (base_id, dist_id):
        redis_client.delete(
            keys.batch_meta_key(batch_id),
            keys.batch_tasks_key(batch_id),
            keys.batch_calls_key(batch_id),
            keys.batch_load_key(batch_id),
        )


def test_load_batch_reads_what_was_written(
    redis_client: redis.Redis, batches: tuple[str, str]
) -> None:
    meta, tasks, traces = load_batch(redis_client, batches[1])
    assert meta.tasks == 60 and len(tasks) == 60 and len(traces) == 120
    assert [t.index for t in tasks] == list(range(60))


def test_report_writes_html_and_plots(
    redis_client: redis.Redis, batches: tuple[str, str], tmp_path: Path
) -> None:
    base_id, dist_id = batches
    made = make_report(redis_client, dist_id, tmp_path, vs=base_id)
    html = made.index.read_text()
    assert {p.name for p in made.images} == {
        "gantt.png",
        "pool_load.png",
        "latency.png",
        "comparison.png",
    }
    assert made.headline[0].startswith("Both batches did the same work")
    for image in made.images:
        assert image.read_bytes().startswith(PNG_MAGIC) and image.stat().st_size > 5_000
        assert f"src='{image.name}'" in html
    assert made.load_sampled and "not sampled" not in html
    # baseline: 60 s on one $2.2/h node; distributed: 30 s on $0.8 + $0.5 nodes
    assert made.comparison is not None
    assert made.comparison.baseline.cost_usd == pytest.approx(2.2 * 60 / 3600)
    assert made.cost.cost_usd == pytest.approx(1.3 * 30 / 3600)
    assert made.comparison.cost_reduction == pytest.approx(1 - 1.3 * 30 / (2.2 * 60))
    assert "cost 70.5 %" in html and "Time and cost" in html
    assert made.cost.errors == 9  # every 7th task


def test_report_without_samples_says_not_sampled(
    redis_client: redis.Redis, batches: tuple[str, str], tmp_path: Path
) -> None:
    made = make_report(redis_client, batches[0], tmp_path)
    assert not made.load_sampled
    assert "not sampled" in made.index.read_text()


def test_report_cli(batches: tuple[str, str], tmp_path: Path) -> None:
    from scripts.cli.cost import app

    result = CliRunner().invoke(
        app, ["report", batches[1], "--vs", batches[0], "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "Time and cost" in result.output and (tmp_path / "index.html").exists()
    missing = CliRunner().invoke(app, ["report", "no-such-batch-x", "-o", str(tmp_path)])
    assert missing.exit_code == 2 and "no batch 'no-such-batch-x'" in missing.output


def _serve_all_from_cache(r: redis.Redis, batch_id: str) -> None:
    """Make a written batch one whose every call was a cache hit (cache on)."""
    key = keys.batch_calls_key(batch_id)
    for call_id, raw in r.hgetall(key).items():
        trace = CallTrace.model_validate_json(raw)
        trace.cached, trace.worker, trace.started_at, trace.finished_at = True, None, None, None
        r.hset(key, call_id, trace.model_dump_json())


def test_report_vs_refuses_unlike_batches_unless_allowed(
    redis_client: redis.Redis, batches: tuple[str, str], tmp_path: Path
) -> None:
    from dicec.errors import ComparisonError

    base_id, dist_id = batches
    _serve_all_from_cache(redis_client, dist_id)
    with pytest.raises(ComparisonError, match="refusing to compare the cost of unlike batches"):
        make_report(redis_client, dist_id, tmp_path, vs=base_id)
    made = make_report(redis_client, dist_id, tmp_path, vs=base_id, allow_unlike=True)
    assert made.headline[0].startswith("UNLIKE BATCHES (--allow-unlike)")
    assert f"{dist_id}: cache on, 60 tasks, 120 calls: 0 computed" in made.headline[2]
    html = made.index.read_text()
    assert html.index("UNLIKE BATCHES") < html.index("Time and cost")
    assert (tmp_path / "comparison.png").read_bytes().startswith(PNG_MAGIC)
