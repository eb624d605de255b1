"""The paper's comparison on this machine: the same claims batch, monolith vs distributed.

    .venv/bin/python bench/baseline_vs_distributed.py [--tasks 100] [--nodes 1]

Same images, same small checkpoints, same 2 cores, call cache off (every call computed).
Baseline: `--nodes` monolith processes, each hosting every model and running the serial
program (examples/claims_serial.py). Distributed: the pools of the default pools file
running the distributed program. Prints makespan, throughput and cost ratios, the cost
under the paper-mirroring prices (A100 $2.2/h for the monolith; the pools' GPU types).
Each mode runs `--repeats` times, interleaved; the best run of each counts (every run's
throughput is printed too), so that load from other processes on the machine does not
decide the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _harness import ROOT, submit, submit_command

from dicec.services import ensure_redis
from dicec.settings import get_settings


def run(mode: str, program: str, images: Path, tasks: int, nodes: int, pools: str) -> dict:
    options = ["--mode", mode, "--nodes", str(nodes), "--seed", "3", "--no-cache"]
    options += ["--pools", pools, "--local", "yes"]
    return submit(submit_command(Path(program), images, tasks, *options), f"{mode} batch")


def batch_cost(summary: dict) -> float:
    from dicec import keys
    from dicec.records import BatchMeta
    from dicec.redis_conn import sync_client

    meta = BatchMeta.model_validate_json(
        sync_client().get(keys.batch_meta_key(summary["batch_id"]))
    )
    per_hour = sum(meta.pool_prices[p] * meta.pool_replicas.get(p, 1) for p in meta.pool_prices)
    return per_hour * summary["wall_s"] / 3600


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda s: s["tasks_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--pools", default="local")
    parser.add_argument(
        "--repeats", type=int, default=2, help="interleaved runs of each mode; best one counts"
    )
    args = parser.parse_args()
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    build_small_checkpoints(get_settings().checkpoint_dir)
    images = Path(tempfile.mkdtemp(prefix="dicec-bench-"))
    generate_claims_images(images)
    programs = {
        "baseline": (str(ROOT / "examples" / "claims_serial.py"), args.nodes),
        "distributed": (str(ROOT / "examples" / "claims_distributed.py"), 1),
    }
    runs: dict[str, list[dict]] = {mode: [] for mode in programs}
    with ensure_redis(get_settings()):
        # Interleaved, so that load from anything else on the machine hits both modes.
        for _ in range(args.repeats):
            for mode, (program, nodes) in programs.items():
                runs[mode].append(run(mode, program, images, args.tasks, nodes, args.pools))
        base, dist = best(runs["baseline"]), best(runs["distributed"])
        base_cost, dist_cost = batch_cost(base), batch_cost(dist)
    for name, s, cost in (("baseline", base, base_cost), ("distributed", dist, dist_cost)):
        every = ", ".join(f"{r['tasks_per_s']:.2f}" for r in runs[name])
        print(
            f"{name:12s} {s['tasks']} tasks ({s['errors']} errors) in {s['wall_s']:7.1f} s  "
            f"{s['tasks_per_s']:6.2f} tasks/s  {s['calls']} calls  cost ${cost:.4f}  "
            f"(best of {len(runs[name])}: {every} tasks/s)"
        )
    print(
        f"throughput ratio distributed/baseline {dist['tasks_per_s'] / base['tasks_per_s']:.2f}"
        f"   (target >= 2.7 with {args.nodes} monolith node(s))"
    )
    print(
        f"makespan ratio baseline/distributed {base['wall_s'] / dist['wall_s']:.2f}   "
        f"cost ratio distributed/baseline {dist_cost / base_cost:.2f}"
    )


if __name__ == "__main__":
    main()
