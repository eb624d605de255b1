"""What a model call costs beside busy Python in its own process, and beside the same
work in another process: why the baseline node's models have a process of their own
(worker_models/modelserver.py).

    .venv/bin/python bench/gil_contention.py [--calls 25] [--rounds 6]

The same call (the 224-px BLIP checkpoint, one claims crop, batch 1, as the plain loop
and the baseline node make it) is timed in the calling thread's CPU time: alone; beside
a thread of this process doing BURST_S of Python (JSON parsing) every PAUSE_S, about
what the node's event loop does for another task's call; and beside a process doing
the same. Rounds alternate the three; prints each one's median CPU-ms per call and its
ratio to alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _workload import MS_PER_S, call_params, car_boxes, ensure_workload, settings_224

BURST_S = 0.0003
PAUSE_S = 0.004


def bursts(stop: Any) -> None:
    """Short bursts of Python, then a wait, until `stop` is set."""
    payload = json.dumps({"params": {"question": "what colour is the car?" * 3}, "x": [1] * 50})
    while not stop.is_set():
        started = time.perf_counter()
        while time.perf_counter() - started < BURST_S:
            json.loads(payload)
        time.sleep(PAUSE_S)


def timed(run: Callable[[], object], calls: int) -> float:
    """CPU-ms per call of `run`, in this thread."""
    started = time.thread_time()
    for _ in range(calls):
        run()
    return (time.thread_time() - started) / calls * MS_PER_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    from worker_models.catalogue import get_spec
    from worker_models.images import load_image_file
    from worker_models.loading import load_backend

    files = sorted(ensure_workload(Path(tempfile.mkdtemp(prefix="dicec-gil-"))))
    backend = load_backend("blip", settings_224())
    params = [get_spec("blip").params.model_validate(call_params("blip", "x", 0))]
    crop = load_image_file(str(files[0])).crop(car_boxes()[0])

    def call() -> object:
        return backend.run_batch(params, [crop])

    timed(call, 10)  # warm-up
    results: dict[str, list[float]] = {"alone": [], "beside a thread": [], "beside a process": []}
    for _ in range(args.rounds):
        results["alone"].append(timed(call, args.calls))
        stop_thread = threading.Event()
        thread = threading.Thread(target=bursts, args=(stop_thread,), daemon=True)
        thread.start()
        results["beside a thread"].append(timed(call, args.calls))
        stop_thread.set()
        thread.join()
        stop_process = mp.get_context("spawn").Event()
        process = mp.get_context("spawn").Process(target=bursts, args=(stop_process,))
        process.start()
        time.sleep(0.5)  # its interpreter up and bursting
        results["beside a process"].append(timed(call, args.calls))
        stop_process.set()
        process.join()
    alone = statistics.median(results["alone"])
    print(f"BLIP, batch 1, CPU-ms per call (median of {args.rounds} rounds of {args.calls}):")
    for name, values in results.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name:18s} {median:7.2f}  ({median / alone:.3f}x alone)  rounds: {rounds}")


if __name__ == "__main__":
    main()
