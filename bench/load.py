"""Load: a 10,000-task claims batch on this machine, small checkpoints, a private Redis.

    .venv/bin/python bench/load.py [--tasks 10000] [--no-cache] [--pools local]

Prints throughput (tasks/s, calls/s), the orchestrator's peak RSS, Redis's peak memory
(dataset and process), and which Redis keys would be left once the batch's TTL
(keys.BATCH_TTL_S) has passed: keys without an expiry, or expiring later than the batch.
Figures also go to var/load-report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import redis
from _harness import ROOT, submit_command

from dicec import keys
from orchestrator.batch.claims_images import generate_claims_images
from orchestrator.batch.localpools import LocalPools
from tests.support.redis_server import private_redis
from worker_models.checkpoints import build_small_checkpoints
from worker_models.pools import load_pools, resolve_pools_path

PROGRAM = ROOT / "examples" / "claims_distributed.py"
IMAGES = ROOT / "var" / "claims-images"
LOG_DIR = ROOT / "var" / "bench-logs" / "load"
REPORT = ROOT / "var" / "load-report.json"
BATCH_TIMEOUT_S = 3600
MB = 1024 * 1024


def key_family(key: str) -> str:
    """A key's family: its name with ids and digests replaced by *."""
    parts = key.split(":")
    if key.startswith(keys.PREFIX + ":batch:") and len(parts) >= 4:
        return ":".join([parts[0], parts[1], "*", *parts[3:]])
    if key.startswith("_kombu."):
        return key.rsplit(".", 1)[0] + ".*" if key.count(".") > 1 else key
    if key.startswith("celery-task-meta-"):
        return "celery-task-meta-*"
    return ":".join(parts[:2] + ["*"]) if len(parts) > 2 else key


def keys_left_after_ttl(client: redis.Redis, ttl_s: int) -> dict[str, int]:
    """Families of keys that outlive `ttl_s` (no expiry, or a longer one), with counts."""
    left: Counter[str] = Counter()
    for raw in client.scan_iter(count=1000):
        ttl = client.ttl(raw)
        if ttl == -1 or ttl > ttl_s:
            left[key_family(raw.decode())] += 1
    return dict(sorted(left.items()))


def run_batch(url: str, tasks: int, pools_path: Path, no_cache: bool) -> tuple[dict, float]:
    """submit_batch.py as a user runs it; its summary and its peak RSS (MB)."""
    options = ["--seed", "1", "--pools", str(pools_path), "--local", "no"]
    argv = submit_command(PROGRAM, IMAGES, tasks, *options, *(["--no-cache"] if no_cache else []))
    env = {**os.environ, "REDIS_URL": url, "DICEC_EMBEDDED_REDIS": "false"}
    proc = subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, timeout=BATCH_TIMEOUT_S, check=False
    )
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        sys.exit(f"the batch failed:\n{proc.stderr.decode()[-3000:]}")
    # Only the orchestrator has been reaped so far: the workers and Redis still run.
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(proc.stdout), peak_kb / 1024


def process_peak_mb(pid: int) -> float:
    """VmHWM: the peak resident set of a live process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--no-cache", action="store_true", help="compute every call")
    parser.add_argument("--pools", default=None, help="pools file (default: local)")
    args = parser.parse_args()

    build_small_checkpoints(Path(os.environ["DICEC_CHECKPOINT_DIR"]))
    generate_claims_images(IMAGES)
    pools_path = resolve_pools_path(args.pools).resolve()
    with private_redis(appendonly=True) as server:
        client = server.client()
        env = {"REDIS_URL": server.url, "DICEC_EMBEDDED_REDIS": "false"}
        pools = LocalPools(load_pools(pools_path), pools_path, client, env=env, log_dir=LOG_DIR)
        try:
            pools.start()
            pools.wait_ready()
            started = time.monotonic()
            summary, orchestrator_mb = run_batch(server.url, args.tasks, pools_path, args.no_cache)
            wall_s = time.monotonic() - started
        finally:
            pools.stop()  # workers delete their heartbeats on the way out
        assert server.proc is not None
        memory = client.info("memory")
        figures = {
            "tasks": summary["tasks"],
            "ok": summary["ok"],
            "errors": summary["errors"],
            "missing": summary["missing"],
            "cache": not args.no_cache,
            "wall_s": round(wall_s, 1),
            "tasks_per_s": round(summary["tasks"] / wall_s, 1),
            "calls": summary["calls"],
            "calls_per_s": round(summary["calls"] / wall_s, 1),
            "dispatch": summary["dispatch"],
            "orchestrator_peak_rss_mb": round(orchestrator_mb, 1),
            "redis_used_memory_peak_mb": round(memory["used_memory_peak"] / MB, 1),
            "redis_process_peak_rss_mb": round(process_peak_mb(server.proc.pid), 1),
            "redis_keys_after_batch": client.dbsize(),
            "redis_keys_left_after_batch_ttl": keys_left_after_ttl(client, keys.BATCH_TTL_S),
            "batch_ttl_s": keys.BATCH_TTL_S,
        }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n")
    for name, value in figures.items():
        print(f"{name:>34}: {value}")


if __name__ == "__main__":
    main()
