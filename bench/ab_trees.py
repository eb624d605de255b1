"""The same batch from two source trees, alternated: what a change bought, side by side.

    git worktree add ../before <commit>
    .venv/bin/python bench/ab_trees.py ../before . [--rounds 4] [--tasks 200]
        [--mode distributed|baseline]

Each round runs one batch from each tree (the order flips every round, so that a slow
minute does not always land on the same one), on the realistic-cost workload of
bench/throughput.py (224-px checkpoints, fixed boxes, 13 calls a task, cache off), with
the process tree's CPU sampled per role inside the batch's window. Both trees run with
this checkout's virtual environment and checkpoints; each runs its own code (its
scripts/submit_batch.py, started in its own root, imports its own packages first).
Prints every round and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import ROOT
from _workload import CHECKPOINT_DIR_224, MS_PER_S, batch_window, ensure_workload, measured

from dicec.services import ensure_redis
from dicec.settings import get_settings


def one_batch(tree: Path, images: Path, tasks: int, mode: str) -> tuple[float, dict[str, float]]:
    """tasks/s and CPU-ms a task by role of one batch run from `tree`."""
    program = "claims_fixed_serial.py" if mode == "baseline" else "claims_fixed_distributed.py"
    command = [
        sys.executable, str(tree / "scripts" / "submit_batch.py"),
        "--program", str(tree / "bench" / "programs" / program), "--images", str(images),
        "--tasks", str(tasks), "--json", "--mode", mode, "--nodes", "1", "--seed", "3",
        "--no-cache", "--pools", "local", "--local", "yes",
    ]  # fmt: skip
    env = {"DICEC_CHECKPOINT_DIR": str(CHECKPOINT_DIR_224)}
    summary, cpu = measured(command, f"{tree}: the batch", env, cwd=tree)
    roles = cpu.between(*batch_window(summary["batch_id"]))
    return float(summary["tasks_per_s"]), {r: s / tasks * MS_PER_S for r, s in roles.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--mode", choices=("distributed", "baseline"), default="distributed")
    args = parser.parse_args()
    trees = [args.before.resolve(), args.after.resolve()]
    for tree in trees:
        if not (tree / "scripts" / "submit_batch.py").is_file():
            raise SystemExit(f"{tree}: not a checkout of this project (no scripts/submit_batch.py)")
    images = Path(tempfile.mkdtemp(prefix="dicec-ab-"))
    ensure_workload(images)
    runs: dict[Path, list[tuple[float, dict[str, float]]]] = {t: [] for t in trees}
    with ensure_redis(get_settings()):
        for round_no in range(args.rounds):
            for tree in trees if round_no % 2 == 0 else trees[::-1]:
                rate, roles = one_batch(tree, images, args.tasks, args.mode)
                runs[tree].append((rate, roles))
                print(
                    f"round {round_no + 1}, {tree}: {rate:.2f} tasks/s, "
                    f"{sum(roles.values()):.1f} CPU-ms/task",
                    flush=True,
                )
    for tree, done in runs.items():
        names = sorted({r for _, roles in done for r in roles})
        split = ", ".join(
            f"{n} {statistics.median(roles.get(n, 0.0) for _, roles in done):.1f}" for n in names
        )
        print(
            f"{tree}: median {statistics.median(r for r, _ in done):.2f} tasks/s, "
            f"{statistics.median(sum(roles.values()) for _, roles in done):.1f} CPU-ms/task "
            f"({split})"
        )


if __name__ == "__main__":
    main()
