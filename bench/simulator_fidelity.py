"""Does the simulator predict what really happens? Measured vs simulated makespan, here.

    .venv/bin/python bench/simulator_fidelity.py [--tasks 150] [--seed 3]

In one run, on this machine:
1. a profile is measured (`dicec profile --through-workers --overheads --program
   examples/claims_distributed.py`): each claims function's service time against batch
   size, timed inside a real worker process; the per-call costs of worker and dispatch,
   measured on noop batches; the orchestrator's CPU per call, measured on two small
   calibration batches of the claims program on the profiling layout (one process);
2. for each plan below, a real claims batch runs on real worker processes (call cache
   off, so every call is computed), and the simulator predicts its makespan from that
   profile and the batch's call mix: which calls each task made, in which rounds (from
   the batch's traces; their timings are not used).
Prints the measured and predicted makespan and the error of each plan (target <= 15 %),
and for batching plans the mean batch size, measured and simulated. The profile is kept
in var/bench/fidelity-profile.yaml.

All pools share this machine's cores, so the simulator is told so (`host_slots`). One
CPU serves every GPU label of the plans: one measurement serves all of them; the labels
only set prices.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

import yaml
from _harness import ROOT, submit, submit_command

from dicec.records import CallTrace
from dicec.redis_conn import sync_client
from dicec.services import ensure_redis
from dicec.settings import get_settings
from orchestrator.cost.accounting import load_batch
from orchestrator.planning.callmix import call_mix_from_traces
from orchestrator.planning.overheads import apply_overheads, measure_overheads
from orchestrator.planning.profiles import Profile, save_profile
from orchestrator.planning.profiling import load_image
from orchestrator.planning.profiling_workers import measure_profile_through_workers, profiling_pools
from orchestrator.planning.simulator import BaselinePlan, SimConfig, simulate
from worker_models.pools import PoolsFile

PROGRAMS = {
    "distributed": ROOT / "examples" / "claims_distributed.py",
    "baseline": ROOT / "examples" / "claims_serial.py",
}
CLAIMS_FUNCTIONS = ["glip", "blip", "xvlm"]
BATCH_SIZES = (1, 2, 4, 8, 16)
TARGET = 0.15
GPU_TYPES = {
    "A100": {"price_per_hour": 2.2},
    "A6000": {"price_per_hour": 0.8},
    "A4000": {"price_per_hour": 0.5},
}
PROFILE_OUT = ROOT / "var" / "bench" / "fidelity-profile.yaml"


def pool(name: str, gpu: str, functions: list[str], **batching: int) -> dict:
    spec: dict = {"name": name, "gpu_type": gpu, "functions": functions, "device": "cpu"}
    if batching:
        spec["batching"] = {
            f: {"max_batch_size": size, "max_wait_ms": 10} for f, size in batching.items()
        }
    return spec


@dataclass
class Plan:
    name: str
    pools: list[dict]
    mode: str = "distributed"
    nodes: int = 1
    doc: dict = field(init=False)

    def __post_init__(self) -> None:
        self.doc = {
            "name": self.name,
            "gpu_types": GPU_TYPES,
            "pools": self.pools,
            "baseline": {"gpu_type": "A100", "nodes": self.nodes, "device": "cpu"},
        }

    def target(self) -> PoolsFile | BaselinePlan:
        pools = PoolsFile.model_validate(self.doc)
        return BaselinePlan.from_pools(pools, self.nodes) if self.mode == "baseline" else pools


PLANS = [
    Plan(
        "three pools, batching",
        [
            pool("detect", "A6000", ["glip"]),
            pool("vqa", "A6000", ["blip"], blip=8),
            pool("match", "A4000", ["xvlm"], xvlm=16),
        ],
    ),
    Plan(
        "three pools, no batching",
        [
            pool("detect", "A6000", ["glip"]),
            pool("vqa", "A6000", ["blip"]),
            pool("match", "A4000", ["xvlm"]),
        ],
    ),
    Plan("one pool, one process", [pool("all", "A6000", CLAIMS_FUNCTIONS)]),
    # The monolith needs no pool; the one listed only makes a valid pools file.
    Plan("monolith, 1 node", [pool("all", "A6000", ["noop"])], mode="baseline"),
]


def measure(images: Path) -> Profile:
    settings = get_settings()
    doc = PLANS[2].doc | {"pools": [pool("all", "A6000", CLAIMS_FUNCTIONS)]}
    pools = PoolsFile.model_validate(doc)
    profile = measure_profile_through_workers(
        pools,
        settings,
        BATCH_SIZES,
        repeats=5,
        image=load_image(sorted(images.glob("*.jpg"))[0]),
        progress=lambda line: print(f"  {line}"),
    )
    # The orchestrator's CPU per call, on calibration batches of the same program run on
    # the profiling layout (one process, batching): none of the plans measured below.
    costs = measure_overheads(
        settings,
        lambda line: print(f"  {line}"),
        PROGRAMS["distributed"],
        images,
        profiling_pools(pools, None, max(BATCH_SIZES)),
    )
    apply_overheads(profile, costs)
    # One CPU behind every label: the same service times, each label's price.
    hw = profile.hardware["A6000"]
    profile.hardware = {
        gpu: hw.model_copy(update={"price_per_hour": spec["price_per_hour"]})
        for gpu, spec in GPU_TYPES.items()
    }
    return profile


def run_batch(plan: Plan, pools_path: Path, images: Path, tasks: int, seed: int) -> dict:
    options = ["--mode", plan.mode, "--nodes", str(plan.nodes), "--seed", str(seed)]
    options += ["--no-cache", "--pools", str(pools_path), "--local", "yes"]
    command = submit_command(PROGRAMS[plan.mode], images, tasks, *options)
    return submit(command, f"{plan.name}: batch")


def measured_batch_sizes(traces: list[CallTrace]) -> dict[str, float]:
    """Mean calls per model pass: calls of one function that started together."""
    passes: dict[str, set[tuple[str | None, float]]] = defaultdict(set)
    calls: dict[str, int] = defaultdict(int)
    for t in traces:
        if t.started_at is not None and not t.cached:
            passes[t.function].add((t.worker, t.started_at))
            calls[t.function] += 1
    return {f: calls[f] / len(p) for f, p in passes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tasks", type=int, default=150)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    settings = get_settings()
    build_small_checkpoints(settings.checkpoint_dir)
    tmp = Path(tempfile.mkdtemp(prefix="dicec-fidelity-"))
    images = tmp / "images"
    generate_claims_images(images)
    errors = []
    with ensure_redis(settings):
        print(f"profile, measured now (cpu count {os.cpu_count()}):")
        profile = measure(images)
        save_profile(profile, PROFILE_OUT, header="Measured by bench/simulator_fidelity.py.")
        config = SimConfig(
            max_concurrent_tasks=settings.max_concurrent_tasks,
            host_slots=float(os.cpu_count() or 1),
            batching_scope="flush",
        )
        for i, plan in enumerate(PLANS):
            path = tmp / f"plan-{i}.yaml"
            path.write_text(yaml.safe_dump(plan.doc, sort_keys=False))
            summary = run_batch(plan, path, images, args.tasks, args.seed)
            meta, _, traces = load_batch(sync_client(settings), summary["batch_id"])
            mix = call_mix_from_traces(traces, tasks=meta.tasks)
            sim = simulate(mix, profile, plan.target(), config)
            measured, predicted = summary["wall_s"], sim.makespan_s
            errors.append((predicted - measured) / measured)
            print(
                f"{plan.name:26s} measured {measured:6.2f} s  predicted {predicted:6.2f} s  "
                f"error {100 * errors[-1]:+6.1f} %   ({mix.calls()} calls, "
                f"{summary['errors']} task errors)"
            )
            if any(p.get("batching") for p in plan.pools) and plan.mode == "distributed":
                real = measured_batch_sizes(traces)
                shown = ", ".join(
                    f"{f} {real[f]:.1f} vs {s.mean_batch_size:.1f}"
                    for f, s in sorted(sim.functions.items())
                    if f in real
                )
                print(f"{'':26s} calls per pass, measured vs simulated: {shown}")
    worst = max(abs(e) for e in errors)
    verdict = "met" if worst <= TARGET else "MISSED"
    print(
        f"worst error {100 * worst:.1f} %, mean |error| {100 * mean(abs(e) for e in errors):.1f} %"
        f"  (target <= {100 * TARGET:.0f} %: {verdict})"
    )


if __name__ == "__main__":
    main()
