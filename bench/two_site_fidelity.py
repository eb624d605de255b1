"""Does the simulator predict a two-site run? Measured vs simulated makespan, here.

    sudo .venv/bin/python bench/two_site_fidelity.py [--tasks 12] [--images 4] [--runs 3]

DiCE-M's edge and cloud on one machine (tests.support.two_sites): the `edge` pool
(yolov8, depth) runs in its own network namespace, reaching Redis through a user-space
link of 40 Mbit/s and 20 ms RTT. The litter batch runs with the link open (calibration:
service times and one per-call overhead), then shaped, then open again, on the same
workers; the simulator, with the mean overhead of the two open runs (the machine's load
drifts), predicts the shaped run's makespan from its call mix, the bytes that crossed,
the link's probed RTT and its own round trips per message (checked against the proxy's
trace). Prints each run's figures and the error (target <= 15 %). Needs root.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from statistics import mean

from _harness import ROOT

from dicec.settings import get_settings
from tests.support import two_sites
from tests.support.link_trace import message_sequences
from tests.support.netns import namespaces_unavailable

TARGET = 0.15
TOP_SEQUENCES = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    why = namespaces_unavailable()
    if why:
        raise SystemExit(f"network namespaces unavailable: {why}")
    from worker_models.checkpoints import build_small_checkpoints

    settings = get_settings()
    build_small_checkpoints(settings.checkpoint_dir)
    errors = []
    with two_sites.private_site_redis() as r:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="dicec-two-sites-") as scratch:
                folder = Path(scratch)
                found = two_sites.measure_fidelity(
                    r, folder, args.tasks, args.images, ROOT / "var" / "bench-logs",
                    float(os.cpu_count() or 1), bracket=True,
                )  # fmt: skip
                errors.append(found.error)
                print(f"run {run + 1}: {found.line()}", flush=True)
                if run == 0:  # what a message costs on the link, from the proxy's trace
                    sequences = message_sequences(folder / "link-trace.txt")
                    for sequence, count in sequences.most_common(TOP_SEQUENCES):
                        print(f"  {count:4d} x BRPOP {' '.join(sequence)}")
    worst = max(abs(e) for e in errors)
    print(
        f"worst error {100 * worst:.1f} %, mean |error| {100 * mean(abs(e) for e in errors):.1f} %"
        f"  (target <= {100 * TARGET:.0f} %: {'met' if worst <= TARGET else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
