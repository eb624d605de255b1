"""`dicec profile --through-workers --overheads` end to end: real worker processes time the
passes, real noop batches give the per-call costs, and the profile file says so.

It runs as a subprocess on its own Redis DB: the session's test pools also consume the
catalogue's queues, and would take the profiling messages from the profiling worker.
"""

from __future__ import annotations

import os
import subprocess
import sys

import redis

from orchestrator.planning.profiles import load_profile
from tests.conftest import REDIS_URL, ROOT

PROFILE_DB = 12


def test_profile_through_workers_with_overheads(redis_client, checkpoint_dir, tmp_path):
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{PROFILE_DB}"
    scratch = redis.Redis.from_url(url)
    scratch.flushdb()
    out = tmp_path / "profile.yaml"
    env = {**os.environ, "REDIS_URL": url, "DICEC_CHECKPOINT_DIR": str(checkpoint_dir)}
    cmd = [
        *(sys.executable, "-m", "scripts.cli.main", "profile", "--pools", "local"),
        *("--functions", "xvlm", "--batch-sizes", "1,4", "--repeats", "2"),
        *("--through-workers", "--overheads", "-o", str(out)),
    ]
    try:
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        scratch.flushdb()  # its own DB: the calibration batches' keys go with the test
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(in a worker)" in done.stderr and "per call: orchestrator" in done.stderr

    profile = load_profile(out)
    assert profile.measured and "--through-workers --overheads" in out.read_text()
    (gpu,) = profile.hardware  # the local pools host xvlm on one GPU type
    points = profile.hardware[gpu].functions["xvlm"].points
    assert [p.batch_size for p in points] == [1, 4]
    assert all(0 < p.service_s < 5 for p in points)
    # Per-call costs on this machine are a fraction of a millisecond to a few: positive,
    # and far below a second (a unit mistake would be off by 1000).
    assert 0 < profile.orchestrator_call_s < 0.05
    assert 0 < profile.hardware[gpu].call_overhead_s < 0.05
    assert 0 < profile.dispatch_overhead_s < 0.5
    # The tests' Redis is a local TCP process: its CPU per call is measured too.
    assert 0 < profile.broker_call_s < 0.05
