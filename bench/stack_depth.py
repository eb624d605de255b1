"""What a model call costs at each depth of the Python stack it is made from, and on the
model thread (worker_models/modelthread.py).

    .venv/bin/python bench/stack_depth.py [--function blip] [--calls 20] [--max-depth 160]

CPython 3.11 keeps a thread's frames in 16 KiB chunks and unmaps a chunk when the call
that opened it returns: made from a depth where a chunk's edge falls inside the model's
own frames, every crossing maps a chunk and faults its pages in again. The same call
(the 224-px checkpoint, one claims crop, batch 1, as the plain loop and the baseline node
make it) is timed in this thread's CPU time from each depth (padding frames added by
recursion), then from the deepest one through a ModelThread. Prints CPU-ms and minor
page faults per call; the spread between depths is what the model thread takes away.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _workload import MS_PER_S, call_params, car_boxes, ensure_workload, settings_224

from worker_models.modelthread import ModelThread


def at_depth(depth: int, fn: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    """`fn()` called `depth` frames below this one."""
    return fn() if depth == 0 else at_depth(depth - 1, fn)


def timed(run: Callable[[], object], calls: int) -> Callable[[], tuple[float, int]]:
    """A function that makes `calls` calls of `run` and returns their CPU-ms and minor
    faults per call, in the thread that makes them."""

    def measure() -> tuple[float, int]:
        faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        started = time.thread_time()
        for _ in range(calls):
            run()
        cpu_ms = (time.thread_time() - started) / calls * MS_PER_S
        faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - faults
        return cpu_ms, round(faults / calls)

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", default="blip", choices=("glip", "blip", "xvlm"))
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--max-depth", type=int, default=160)
    parser.add_argument("--step", type=int, default=2)
    args = parser.parse_args()
    from worker_models.catalogue import get_spec
    from worker_models.images import load_image_file
    from worker_models.loading import load_backend

    path = ensure_workload(Path(tempfile.mkdtemp(prefix="dicec-stack-")))[0]
    parent = load_image_file(path)
    image = parent if args.function == "glip" else parent.crop(car_boxes()[0])
    backend = load_backend(args.function, settings_224())
    params = [get_spec(args.function).params.model_validate(call_params(args.function, "x", 0))]

    def run() -> object:
        return backend.run_batch(params, [image])

    measure = timed(run, args.calls)
    measure()  # warm-up
    rows = [(d, *at_depth(d, measure)) for d in range(0, args.max_depth + 1, args.step)]
    model_thread = ModelThread()
    try:
        model_thread.run(measure)  # warm-up
        on_thread = at_depth(args.max_depth, lambda: model_thread.run(measure))
    finally:
        model_thread.close()
    for depth, cpu_ms, faults in rows:
        print(f"depth {depth:4d}: {cpu_ms:6.2f} CPU-ms/call, {faults:4d} faults/call")
    cpus = [cpu for _, cpu, _ in rows]
    worst = max(rows, key=lambda r: r[1])
    print(
        f"{args.function}: median over depths {statistics.median(cpus):.2f}, best "
        f"{min(cpus):.2f}, worst {worst[1]:.2f} CPU-ms/call ({worst[2]} faults, depth "
        f"{worst[0]}); on the model thread from depth {args.max_depth}: {on_thread[0]:.2f} "
        f"CPU-ms/call, {on_thread[1]} faults"
    )


if __name__ == "__main__":
    main()
