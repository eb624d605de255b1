"""The sandbox's cost, measured side by side in one run.

    .venv/bin/python bench/sandbox_overhead.py [--tasks 500] [--rate 500] [--photos 64]
                                               [--skip-cpu]

1. CPU-bound program code: the same function run plainly (exec with real builtins) and
   through compile_program + run_program; prints the slowdown ratio per workload.
2. Per-task overhead: N concurrent runs of the paper's claims_distributed.py against an
   in-process hermod whose calls take no time; prints tasks per second.
3. Jailed vs in-process runner, side by side: the same claims program through run_task
   (real Hermod, calls validated, answered at once by a no-op backend, 128 tasks at a
   time), first as fast as each runner goes, then paced at --rate tasks/s offered, then
   paced with --photos distinct 320x240 photos in turn (what a batch over a folder of
   claims photos gives the jail to cache), then with a new photo for every task (each
   one handed to the jail during the measurement); prints tasks/s of each and the
   jail's cost. Last, jailed only: the claims tasks as fast as they go, alone and beside
   8 programs that spin (a hostile batch's share of the CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dicec.settings import Settings
from orchestrator.batch.claims_images import IMAGE_SIZE as PHOTO_SIZE
from orchestrator.batch.task import run_task
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import Limits, compile_program, run_program
from worker_models.calls import check_result
from worker_models.imageref import ImageRef, TrackedImage, digest_of, encode_png

REFERENCE = Path("/work/shared/reference-programs/claims_distributed.py")
CONCURRENT_TASKS = Settings().max_concurrent_tasks  # the default
WORKLOADS = {
    "loop with += ": "t = 0\nfor i in range(300000):\n    t += i",
    "loop with * and %": "t = 0\nfor i in range(300000):\n    t += (i * i) % 7",
    "list comprehension": "x = [i for i in range(300000)]",
    "100k function calls": "def f(x):\n    return x\nfor i in range(100000):\n    f(i)",
    "recursion (depth 50)": "def r(n):\n    return 0 if n == 0 else 1 + r(n - 1)\n"
    "for i in range(2000):\n    r(50)",
}


class InstantBackend:
    """A CallBackend whose calls take no time (the no-op pool without the queue)."""

    async def call(self, prepared: Any, origin: Any) -> tuple[str, Any]:
        name = prepared.spec.name
        raw = {"result": [{"x": 0, "y": 0, "width": 4, "height": 4}] * 2} if name == "glip" else (
            {"answer": "red"} if name == "blip" else {"result": True, "score": 0.5})  # fmt: skip
        return "bench", check_result(prepared.spec, raw)


def plain_image() -> TrackedImage:
    """The claims rows' one 64x48 image, stored by reference."""
    plain = Image.new("RGB", (64, 48))
    return TrackedImage.wrap(plain, ImageRef(digest_of(encode_png(plain))))


def photos(count: int, size: tuple[int, int]) -> list[TrackedImage]:
    """`count` distinct images (noise: no two alike), stored by reference."""
    made = [Image.effect_noise(size, 30 + i).convert("RGB") for i in range(count)]
    return [TrackedImage.wrap(m, ImageRef(digest_of(encode_png(m)))) for m in made]


async def runner_rate(
    count: int,
    jail: Jail | None,
    rate: float | None,
    images: list[TrackedImage] | None = None,
    prime: bool = True,
) -> float:
    """Tasks/s of `count` claims tasks through run_task, 128 at a time; paced at `rate`
    tasks/s offered when given. Task i runs on images[i % len] (one 64x48 image by
    default); with `prime`, each image is used once before the clock starts (the jail
    caches them), else the first use of each is measured too."""
    program = compile_program(REFERENCE.read_text(), REFERENCE.name)
    if images is None:
        images = [plain_image()]
    backend = InstantBackend()
    gate = asyncio.Semaphore(CONCURRENT_TASKS)

    async def one(index: int, start: float) -> bool:
        image = images[index % len(images)]

        async def load() -> TrackedImage:
            return image

        if rate:
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        async with gate:
            outcome = await run_task(program, "a.jpg", load, backend, jail=jail, task_index=index)
        return outcome.ok

    if jail is not None:  # the zygote starts (and gets every image) outside the measurement
        for index in range(len(images) if prime else 1):
            await one(index, time.perf_counter())
    start = time.perf_counter()
    oks = await asyncio.gather(*[one(i, start) for i in range(count)])
    elapsed = time.perf_counter() - start
    if not all(oks):
        raise SystemExit(f"{oks.count(False)} of {count} tasks failed")
    return count / elapsed


def compare_runners(count: int, rate: float, photo_count: int) -> None:
    jail = Jail()
    cached = photos(photo_count, PHOTO_SIZE)
    runs: list[tuple[str, float | None, list[TrackedImage] | None]] = [
        ("as fast as it goes", None, None),
        (f"offered {rate:g} tasks/s", rate, None),
        (f"offered {rate:g} tasks/s, {photo_count} cached {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} photos",
         rate, cached),
        (f"offered {rate:g} tasks/s, a new photo every task", rate, photos(count, PHOTO_SIZE)),
    ]  # fmt: skip
    try:
        for label, offered, images in runs:
            prime = images is not None and len(images) < count  # else each is new to the jail
            inproc = asyncio.run(runner_rate(count, None, offered, images))
            jailed = asyncio.run(runner_rate(count, jail, offered, images, prime))
            cost = 100 * (1 - jailed / inproc)
            print(f"claims via run_task, {count} tasks, {label}: in-process {inproc:.0f} "
                  f"tasks/s, jailed {jailed:.0f} tasks/s, jail costs {cost:.0f} %")  # fmt: skip
        alone = asyncio.run(runner_rate(count, jail, None))
        beside = asyncio.run(beside_spinners(count, jail, SPINNERS))
        print(f"jailed claims, {count} tasks as fast as they go: {alone:.0f} tasks/s alone, "
              f"{beside:.0f} tasks/s beside {SPINNERS} programs that spin until their deadline "
              f"({100 * beside / alone:.0f} %: a child that burns CPU yields it, "
              "orchestrator.program.jail.cpu_yield)")  # fmt: skip
    finally:
        jail.close()


SPINNERS = 8
SPINNER = "async def execute_query(image_filename):\n    x = 0\n    while True:\n        x += 1\n"


async def beside_spinners(count: int, jail: Jail, spinners: int) -> float:
    """Tasks/s of `count` claims tasks while `spinners` jailed programs burn CPU (each is
    cancelled, its child killed, once the claims tasks are done)."""
    program = compile_program(SPINNER, "spin.py", Limits(wall_s=60))
    image = plain_image()

    async def load() -> TrackedImage:
        return image

    spinning = [
        asyncio.ensure_future(
            run_task(program, "a.jpg", load, InstantBackend(), jail=jail, task_index=count + i)
        )  # fmt: skip
        for i in range(spinners)
    ]
    await asyncio.sleep(0.3)  # each has used its CPU budget and yields
    try:
        return await runner_rate(count, jail, None)
    finally:
        for task in spinning:
            task.cancel()
        await asyncio.gather(*spinning, return_exceptions=True)


class InstantHermod:
    async def call(self, name: str, **kwargs: Any) -> Any:
        boxes = [{"x": 0, "y": 0, "width": 4, "height": 4}] * 2
        return boxes if name == "glip" else {"answer": "red", "result": True}


def cpu_ratio(body: str) -> tuple[float, float]:
    source = "async def execute_query(f):\n" + "\n".join("    " + ln for ln in body.splitlines())
    namespace: dict[str, Any] = {}
    exec(compile(source, "plain", "exec"), namespace)  # our own benchmark code
    start = time.perf_counter()
    asyncio.run(namespace["execute_query"]("x"))
    plain = time.perf_counter() - start
    program = compile_program(source, "bench.py", Limits(wall_s=600))
    image = Image.new("RGB", (8, 8))
    start = time.perf_counter()
    asyncio.run(run_program(program, modules={}, image_path="x", image=image))
    return plain, time.perf_counter() - start


async def many_tasks(count: int) -> float:
    program = compile_program(REFERENCE.read_text(), REFERENCE.name)
    image = Image.new("RGB", (64, 48))
    hermod = InstantHermod()
    start = time.perf_counter()
    await asyncio.gather(*[
        run_program(program, modules={"hermod": hermod}, image_path="a.jpg", image=image)
        for _ in range(count)
    ])  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=500.0, help="offered tasks/s (part 3)")
    parser.add_argument("--skip-cpu", action="store_true", help="only parts 2 and 3")
    parser.add_argument(
        "--photos", type=int, default=64, help="distinct photos in part 3's last row"
    )
    args = parser.parse_args()
    for label, body in WORKLOADS.items() if not args.skip_cpu else ():
        plain, sandboxed = cpu_ratio(body)
        print(f"{label:22s} plain {plain:.3f}s  sandboxed {sandboxed:.3f}s  "
              f"ratio {sandboxed / plain:.1f}x")  # fmt: skip
    elapsed = asyncio.run(many_tasks(args.tasks))
    print(f"{args.tasks} concurrent claims_distributed tasks (instant calls): {elapsed:.2f}s, "
          f"{args.tasks / elapsed:.0f} tasks/s")  # fmt: skip
    compare_runners(args.tasks, args.rate, args.photos)


if __name__ == "__main__":
    main()
