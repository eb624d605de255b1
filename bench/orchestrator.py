"""The orchestrator's own cost, measured side by side in one run.

    .venv/bin/python bench/orchestrator.py [--tasks 1000] [--rss-tasks 10000]

1. Calls per second of a program making noop calls through hermod (examples/noop_fanout.py,
   10 gathered calls per task, cache off) versus raw Celery (the same number of echo
   tasks, sent then collected with the result backend). Target ratio >= 0.8.
2. Peak RSS of the orchestrator process (scripts/submit_batch.py) for a 10,000-task batch
   of that program. Target <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _harness import ROOT, echo_worker, redis_and_pools, submit_command

POOLS = str(ROOT / "tests" / "data" / "pools-noop.yaml")
PROGRAM = ROOT / "examples" / "noop_fanout.py"
CALLS_PER_TASK = 10


def raw_celery_calls_per_s(n: int) -> float:
    from worker_models.tasks import echo

    t = time.perf_counter()
    results = [echo.delay(i) for i in range(n)]
    for r in results:
        r.get(timeout=300)
    return n / (time.perf_counter() - t)


def _peak_rss_mb(pid: int, stop: threading.Event, out: list[float]) -> None:
    status = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            return
        stop.wait(0.2)


def run_batch(images: Path, tasks: int) -> tuple[dict, float]:
    cmd = submit_command(PROGRAM, images, tasks, "--pools", POOLS, "--local", "no", "--no-cache")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    peaks: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_peak_rss_mb, args=(proc.pid, stop, peaks), daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    stop.set()
    if proc.returncode != 0:
        raise SystemExit(f"batch failed: exit {proc.returncode}")
    return json.loads(out), max(peaks, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rss-tasks", type=int, default=10_000)
    args = parser.parse_args()
    from orchestrator.batch.claims_images import generate_claims_images

    images = Path(tempfile.mkdtemp(prefix="dicec-bench-"))
    generate_claims_images(images)
    with redis_and_pools(POOLS), echo_worker():
        summary, _ = run_batch(images, args.tasks)
        hermod_rate = summary["calls"] / summary["wall_s"]
        raw_rate = raw_celery_calls_per_s(args.tasks * CALLS_PER_TASK)
        big, peak_mb = run_batch(images, args.rss_tasks)
    print(
        f"hermod program calls/s {hermod_rate:8.0f}   raw celery calls/s {raw_rate:8.0f}   "
        f"ratio {hermod_rate / raw_rate:.2f}   target >= 0.8"
    )
    print(
        f"{args.rss_tasks}-task batch: {big['tasks']} tasks, {big['missing']} missing, "
        f"{big['wall_s']:.1f} s; orchestrator peak RSS {peak_mb:.0f} MiB   target <= 1024 MiB"
    )


if __name__ == "__main__":
    main()
