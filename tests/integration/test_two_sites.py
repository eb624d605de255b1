"""Two sites for real on one machine: the litter batch with the edge pool's workers in
their own network namespace, reaching Redis over a shaped link (tests.support.two_sites).

The simulator, calibrated on the same batch run by the same workers with the link open,
predicts the shaped run's makespan from the link's bandwidth and latency and its own
count of round trips per message, which the proxy's count of requests checks. Needs root
for the namespace: under CI (CI set) their absence fails the test, elsewhere it skips.
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
TOLERANCE = 0.15  # the target for simulated vs measured makespan


@pytest.fixture(scope="module")
def namespaces() -> None:
    why = namespaces_unavailable()
    if why is None:
        return
    if os.environ.get("CI"):
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
    assert found.requests_per_message == two_sites.REQUESTS_PER_MESSAGE, (
        f"the edge sent {found.requests_per_message:g} requests per message over the link, "
        f"the simulator's round trips account for {two_sites.REQUESTS_PER_MESSAGE:g}: "
        "recount them (python -m tests.support.link_trace) and update REMOTE_ROUND_TRIPS_*"
    )
    assert abs(found.error) <= TOLERANCE, found.line()

    # The cost report has the transfer row, and the Gantt chart the link.
    (row,) = batch_cost(meta, tasks, traces).transfers
    assert row.bytes == sum(t.transfer_bytes for t in edge_calls) and row.cost_usd > 0
    report = make_report(site_redis, far.batch_id, tmp_path / "report")
    assert "Transfers between sites" in report.index.read_text()
