"""Two sites for real on one machine: the litter batch with the edge pool's workers in
their own network namespace, reaching Redis over a shaped link (tests.support.two_sites).

The simulator, calibrated on the same batch run on one site, predicts the two-site
makespan from the link's bandwidth and latency. Needs root for the namespace: under CI
(CI=true) its absence fails the test, elsewhere it skips.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import redis
import yaml

from orchestrator.cost.accounting import batch_cost, load_batch
from orchestrator.cost.report import make_report
from orchestrator.planning.simulator import SimConfig, simulate
from tests.conftest import ROOT
from tests.support import two_sites
from tests.support.netns import edge_site, namespaces_unavailable
from worker_models.pools import PoolsFile

TASKS = 6
IMAGES = 3
# The target is 15 %; the test allows more because this 2-core machine is shared.
TOLERANCE = 0.30


@pytest.fixture(scope="module")
def namespaces() -> None:
    why = namespaces_unavailable()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the two-site test needs network namespaces: {why}")
    pytest.skip(f"network namespaces unavailable: {why}")


def _pools(tmp_path: Path, two: bool) -> tuple[Path, PoolsFile]:
    doc = two_sites.pools_doc(two)
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, PoolsFile.model_validate(doc)


def test_litter_batch_over_a_shaped_link_matches_the_simulator(
    namespaces, redis_client: redis.Redis, checkpoint_dir: Path, tmp_path: Path
) -> None:  # noqa: ARG001
    images = two_sites.write_images(tmp_path / "images", IMAGES)
    logs = ROOT / "var" / "test-logs" / "two-sites"
    one_path, one_pools = _pools(tmp_path, two=False)
    two_path, two_pools = _pools(tmp_path, two=True)
    config = SimConfig(host_slots=float(os.cpu_count() or 1))

    local = two_sites.measured(
        redis_client, two_sites.run_batch(one_path, images, TASKS, redis_client, logs)
    )
    with edge_site() as site:
        far_id = two_sites.run_batch(two_path, images, TASKS, redis_client, logs, edge=site)
    assert (
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.find(
            site.namespace
        )
        == -1
    ), "the edge namespace outlived the test"
    far = two_sites.measured(redis_client, far_id)
    assert local.errors == far.errors == 0

    # What crossed the link is in the traces: edge calls, photo for yolov8, crop for depth.
    edge_calls = [t for t in far.traces if t.site == "edge" and not t.cached]
    assert edge_calls and all(t.transfer_bytes > 0 for t in edge_calls)
    photo = max(t.transfer_bytes for t in edge_calls if t.function == "yolov8")
    crops = [t.transfer_bytes for t in edge_calls if t.function == "depth"]
    assert not crops or max(crops) < photo
    assert all(t.transfer_bytes == 0 for t in far.traces if t.site == "cloud")

    overhead_s = two_sites.fit_overhead(local, one_pools, config)
    profile = two_sites.profile_from(local, overhead_s)
    predicted = simulate(two_sites.with_shipped_bytes(far), profile, two_pools, config)
    error = (predicted.makespan_s - far.makespan_s) / far.makespan_s
    print(
        f"one site {local.makespan_s:.2f} s; two sites measured {far.makespan_s:.2f} s, "
        f"simulated {predicted.makespan_s:.2f} s, error {100 * error:+.1f} % "
        f"(per-call overhead fitted on one site: {1000 * overhead_s:.1f} ms)"
    )
    assert far.makespan_s > local.makespan_s  # the link costs time
    assert abs(error) <= TOLERANCE

    # The cost report has the transfer row, and the Gantt chart the link.
    meta, tasks, traces = load_batch(redis_client, far_id)
    (row,) = batch_cost(meta, tasks, traces).transfers
    assert row.bytes == sum(t.transfer_bytes for t in edge_calls) and row.cost_usd > 0
    report = make_report(redis_client, far_id, tmp_path / "report")
    assert "Transfers between sites" in report.index.read_text()
