"""The peer: what a user would hand-write instead of using this project.

    .venv/bin/python bench/peer_mpqueues.py [--tasks 40] [--mode mpqueues|loop] [--json]

`mpqueues`: one process per model (glip, blip, xvlm) fed by a `multiprocessing` queue,
each batching what is waiting (BLIP up to --blip-batch, the others up to their own
--*-batch), and an asyncio driver that runs every task at once and resolves its futures
from one reply queue. `loop`: the plain monolith, ViperGPT-style: one process, every
model loaded, every call run in turn. Both use the project's own backends
(worker_models.loading.load_backend), the 224-px checkpoints, the fixed-box claims
program (bench/programs/claims_fixed_*.py) and the 30 claims images.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _workload import FUNCTIONS, call_params, car_boxes, ensure_workload, settings_224

STOP = None  # sent on a model's queue: the process exits


def _load(function: str) -> Any:
    from worker_models.loading import load_backend

    return load_backend(function, settings_224())


class Pixels:
    """Decoded images of this process, by path, and their crops, by (path, box): the
    questions about one crop get the same image object, which the backends preprocess
    (and BLIP encodes) once a batch, as the project's workers do."""

    def __init__(self) -> None:
        self._images: dict[tuple[str, Any], Any] = {}

    def get(self, path: str, box: tuple[int, int, int, int] | None) -> Any:
        from worker_models.images import load_image_file

        image = self._images.get((path, box))
        if image is None:
            parent = self._images.get((path, None))
            if parent is None:
                parent = self._images[(path, None)] = load_image_file(path)
            image = self._images[(path, box)] = parent if box is None else parent.crop(box)
        return image


def model_process(function: str, batch: int, inbox: Any, outbox: Any) -> None:
    """Serve `function`: take what waits on the queue (up to `batch`), run it as one pass."""
    from worker_models.catalogue import get_spec

    backend, spec, pixels = _load(function), get_spec(function), Pixels()
    outbox.put(("ready", function))
    while (first := inbox.get()) is not STOP:
        items = [first]
        while len(items) < batch:
            try:
                items.append(inbox.get_nowait())
            except queue.Empty:
                break
        params = [spec.params.model_validate(call_params(function, "x", i)) for *_, i in items]
        images = [pixels.get(path, box) for _, path, box, _ in items]
        results = backend.run_batch(params, images)
        outbox.put([(item[0], r.model_dump()) for item, r in zip(items, results, strict=True)])


class PeerRunner:
    """The asyncio side: one future per call, resolved by a thread reading the replies."""

    def __init__(self, batches: dict[str, int]) -> None:
        ctx = mp.get_context("spawn")
        self.inboxes = {f: ctx.Queue() for f in FUNCTIONS}
        self.outbox = ctx.Queue()
        self.procs = [
            ctx.Process(target=model_process, args=(f, batches[f], self.inboxes[f], self.outbox))
            for f in FUNCTIONS
        ]
        self.ids = itertools.count()
        self.futures: dict[int, asyncio.Future[dict[str, Any]]] = {}

    def start(self) -> None:
        for proc in self.procs:
            proc.start()
        ready = {self.outbox.get()[1] for _ in self.procs}
        assert ready == set(FUNCTIONS), ready

    def stop(self) -> None:
        for inbox in self.inboxes.values():
            inbox.put(STOP)
        self.outbox.put(STOP)
        for proc in self.procs:
            proc.join(30)

    def _read_replies(self, loop: asyncio.AbstractEventLoop) -> None:
        while (replies := self.outbox.get()) is not STOP:
            loop.call_soon_threadsafe(self._resolve, replies)

    def _resolve(self, replies: list[tuple[int, dict[str, Any]]]) -> None:
        for call_id, result in replies:
            self.futures.pop(call_id).set_result(result)

    def call(self, function: str, path: str, box: Any, index: int) -> asyncio.Future[Any]:
        call_id = next(self.ids)
        future = self.futures[call_id] = asyncio.get_running_loop().create_future()
        self.inboxes[function].put((call_id, path, box, index))
        return future

    async def task(self, path: str) -> list[str]:
        await self.call("glip", path, None, 0)

        async def car(box: tuple[int, int, int, int]) -> str:
            answers = await asyncio.gather(
                *(self.call("blip", path, box, i) for i in range(2)),
                *(self.call("xvlm", path, box, i) for i in range(2)),
            )
            return " ".join(str(a) for a in answers)

        return list(await asyncio.gather(*(car(b) for b in car_boxes())))

    async def run(self, paths: list[str]) -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        reader = threading.Thread(target=self._read_replies, args=(loop,), daemon=True)
        reader.start()
        await self.task(paths[0])  # warm-up: every model has run once
        started = time.time()
        await asyncio.gather(*(self.task(p) for p in paths))
        return started, time.time()


def run_mpqueues(paths: list[str], batches: dict[str, int]) -> tuple[float, float]:
    runner = PeerRunner(batches)
    runner.start()
    try:
        return asyncio.run(runner.run(paths))
    finally:
        runner.stop()


def run_loop(paths: list[str]) -> tuple[float, float]:
    """The plain monolith: every call of every task in turn, one process."""
    from worker_models.catalogue import get_spec

    backends = {f: _load(f) for f in FUNCTIONS}
    pixels = Pixels()

    def one(function: str, path: str, box: Any, index: int) -> dict[str, Any]:
        params = get_spec(function).params.model_validate(call_params(function, "x", index))
        (result,) = backends[function].run_batch([params], [pixels.get(path, box)])
        return result.model_dump()

    def task(path: str) -> None:
        one("glip", path, None, 0)
        for box in car_boxes():
            for function, index in (("blip", 0), ("blip", 1), ("xvlm", 0), ("xvlm", 1)):
                one(function, path, box, index)

    task(paths[0])  # warm-up
    started = time.time()
    for path in paths:
        task(path)
    return started, time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--mode", choices=("mpqueues", "loop"), default="mpqueues")
    parser.add_argument("--blip-batch", type=int, default=8)
    parser.add_argument("--xvlm-batch", type=int, default=1)
    parser.add_argument("--glip-batch", type=int, default=1)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = args.images or Path(tempfile.mkdtemp(prefix="dicec-peer-"))
    files = sorted(str(p) for p in ensure_workload(images))
    paths = [files[i % len(files)] for i in range(args.tasks)]
    if args.mode == "loop":
        started, ended = run_loop(paths)
    else:
        batches = {"glip": args.glip_batch, "blip": args.blip_batch, "xvlm": args.xvlm_batch}
        started, ended = run_mpqueues(paths, batches)
    wall_s = ended - started
    summary = {"mode": args.mode, "tasks": args.tasks, "wall_s": wall_s}
    summary.update(started_at=started, finished_at=ended)
    summary["tasks_per_s"] = args.tasks / wall_s
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"peer {args.mode}: {args.tasks} tasks in {wall_s:.2f} s = "
            f"{summary['tasks_per_s']:.2f} tasks/s"
        )


if __name__ == "__main__":
    main()
