"""What the call cache buys the paper's claims batch, measured side by side in one run.

    .venv/bin/python bench/cache.py [--tasks 1000] [--seed 7]

The 1000-task claims batch (examples/claims_distributed.py over the 30 synthetic claims
images, small checkpoints) runs twice on the same warm pools of the default pools file:
first with `--no-cache` (every call computed), then with the cache on, starting from an
empty cache. For each run it prints the calls the programs made, the distinct calls among
them (function + parameters, images by content hash: what a perfect memo computes), and
the model executions (calls a worker computed, read from the call traces, plus any
duplicate replies from resends). Targets: executions <= distinct calls with the cache on;
the makespan ratio no-cache / cache is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _harness import ROOT, redis_and_pools, submit, submit_command

from dicec import keys
from dicec.redis_conn import async_client, sync_client
from dicec.settings import get_settings

PROGRAM = ROOT / "examples" / "claims_distributed.py"
SCAN_COUNT = 1000


@dataclass
class Run:
    label: str
    tasks: int
    errors: int
    wall_s: float
    calls: int
    distinct: int
    executions: int
    served_cached: int
    shared_in_flight: int


def run_batch(images: Path, tasks: int, seed: int, cache: bool) -> dict:
    options = ["--seed", str(seed), "--local", "no"] + ([] if cache else ["--no-cache"])
    command = submit_command(PROGRAM, images, tasks, *options)
    return submit(command, f"batch (cache {'on' if cache else 'off'})")


async def _traces(batch_id: str) -> list:
    from orchestrator.batch.store import BatchStore

    aredis = async_client(get_settings())
    try:
        return await BatchStore(aredis, batch_id).load_traces()
    finally:
        await aredis.aclose()


def measure(label: str, summary: dict) -> Run:
    traces = asyncio.run(_traces(summary["batch_id"]))
    # A worker computed a call when its trace names a worker and was not served cached;
    # a duplicate reply (a resent call answered twice) was computed too.
    computed = sum(1 for t in traces if t.worker is not None and not t.cached)
    dispatch = summary["dispatch"]
    return Run(
        label=label,
        tasks=summary["tasks"],
        errors=summary["errors"],
        wall_s=summary["wall_s"],
        calls=summary["calls"],
        distinct=dispatch["distinct"],
        executions=computed + dispatch.get("duplicates", 0),
        served_cached=sum(1 for t in traces if t.cached),
        shared_in_flight=dispatch.get("shared", 0),
    )


def clear_cache() -> int:
    """Drop every call-cache entry, so the cached run starts cold."""
    r = sync_client(get_settings())
    found = list(r.scan_iter(keys.cache_key("*"), count=SCAN_COUNT))
    for i in range(0, len(found), SCAN_COUNT):
        r.delete(*found[i : i + SCAN_COUNT])
    return len(found)


def report(off: Run, on: Run) -> None:
    for run in (off, on):
        print(
            f"{run.label:9s} {run.tasks} tasks ({run.errors} errors) in {run.wall_s:6.1f} s   "
            f"calls {run.calls}   distinct calls {run.distinct}   "
            f"model executions {run.executions}   served from cache {run.served_cached} "
            f"(shared in flight {run.shared_in_flight})"
        )
    verdict = "meets" if on.executions <= on.distinct else "MISSES"
    print(f"cache on: model executions {on.executions} <= distinct calls {on.distinct}: {verdict}")
    print(
        f"makespan ratio no-cache/cache {off.wall_s / on.wall_s:.2f}   "
        f"executions saved {1 - on.executions / max(1, off.executions):.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    build_small_checkpoints(get_settings().checkpoint_dir)
    images = Path(tempfile.mkdtemp(prefix="dicec-bench-"))
    generate_claims_images(images)
    with redis_and_pools(None):  # the default pools, cache enabled in the workers
        off = measure("no-cache", run_batch(images, args.tasks, args.seed, cache=False))
        clear_cache()
        on = measure("cache", run_batch(images, args.tasks, args.seed, cache=True))
    report(off, on)


if __name__ == "__main__":
    main()
