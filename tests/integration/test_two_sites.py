"""Two sites for real on one machine: the litter batch with the edge pool's workers in
their own network namespace, reaching Redis over a shaped link (tests.support.two_sites).

The simulator, calibrated on the same batch run on one site, predicts the two-site
makespan from the link's bandwidth and latency. Needs root for the namespace: under CI
(CI=true) its absence fails the test, elsewhere it skips.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator.cost.accounting import batch_cost, load_batch
from orchestrator.cost.report import make_report
from tests.conftest import ROOT
from tests.support import two_sites
from tests.support.netns import namespaces_unavailable

TASKS = 6
IMAGES = 3
# The target is 15 % (bench/two_site_fidelity.py); the test allows 50 %: on this shared
# 2-core machine one run to the next varies by more than that target.
TOLERANCE = 0.50


@pytest.fixture(scope="module")
def namespaces() -> None:
    why = namespaces_unavailable()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the two-site test needs network namespaces: {why}")
    pytest.skip(f"network namespaces unavailable: {why}")


@pytest.fixture
def site_redis() -> Iterator[redis.Redis]:
    with two_sites.private_site_redis() as client:
        yield client


def test_litter_batch_over_a_shaped_link_matches_the_simulator(
    namespaces, site_redis: redis.Redis, checkpoint_dir: Path, tmp_path: Path
) -> None:
    logs = ROOT / "var" / "test-logs" / "two-sites"
    cores = float(os.cpu_count() or 1)
    found = two_sites.measure_fidelity(site_redis, tmp_path, TASKS, IMAGES, logs, cores)
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "d18edge" not in leftover, "the edge namespace outlived its use"
    local, far = found.local, found.far
    assert local.errors == far.errors == 0

    # What crossed the link is in the traces: each photo once (the edge worker keeps what
    # it decoded), for depth only the crops; nothing to the cloud pool, beside the images.
    meta, tasks, traces = load_batch(site_redis, far.batch_id)
    edge_calls = [t for t in far.traces if t.site == "edge" and not t.cached]
    photos = [t.transfer_bytes for t in edge_calls if t.function == "yolov8" and t.transfer_bytes]
    assert len(photos) == len(set(meta.images))
    crops = [t.transfer_bytes for t in edge_calls if t.function == "depth" and t.transfer_bytes]
    assert not crops or max(crops) < min(photos)
    assert all(t.transfer_bytes == 0 for t in far.traces if t.site == "cloud")

    print(found.line())
    assert far.makespan_s > local.makespan_s  # the link costs time
    assert abs(found.error) <= TOLERANCE

    # The cost report has the transfer row, and the Gantt chart the link.
    (row,) = batch_cost(meta, tasks, traces).transfers
    assert row.bytes == sum(t.transfer_bytes for t in edge_calls) and row.cost_usd > 0
    report = make_report(site_redis, far.batch_id, tmp_path / "report")
    assert "Transfers between sites" in report.index.read_text()
