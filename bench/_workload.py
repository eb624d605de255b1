"""The realistic-cost workload every runner of bench/throughput.py does: the same 224-px
checkpoints, the same 30 images, the fixed-box claims program (13 calls a task).

The crop boxes are read from the bench program itself, so the peer cannot drift from it.
"""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Callable
from pathlib import Path

from _harness import ROOT

PROGRAMS = ROOT / "bench" / "programs"
DISTRIBUTED_PROGRAM = PROGRAMS / "claims_fixed_distributed.py"
SERIAL_PROGRAM = PROGRAMS / "claims_fixed_serial.py"
CHECKPOINT_DIR_224 = ROOT / "var" / "checkpoints-224"
IMAGE_PX = 224
FUNCTIONS = ("glip", "blip", "xvlm")
QUESTIONS = ("What is the color of the car?", "What is the model of the car?")
PROPERTIES = ("damaged", "overturned")
MS_PER_S = 1000.0


def car_boxes() -> list[tuple[int, int, int, int]]:
    """CAR_BOXES as the bench program assigns it."""
    tree = ast.parse(DISTRIBUTED_PROGRAM.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CAR_BOXES":
            return [tuple(b) for b in ast.literal_eval(node.value)]
    raise SystemExit(f"{DISTRIBUTED_PROGRAM}: no CAR_BOXES")


def calls_per_task() -> dict[str, int]:
    cars = len(car_boxes())
    return {"glip": 1, "blip": len(QUESTIONS) * cars, "xvlm": len(PROPERTIES) * cars}


def settings_224():  # noqa: ANN201 - dicec.settings.Settings, imported late (torch-free start)
    from dicec.settings import Settings

    return Settings(checkpoints="small", checkpoint_dir=CHECKPOINT_DIR_224, torch_threads=1)


def ensure_workload(images: Path) -> list[Path]:
    """The 224-px checkpoints and the 30 claims images; returns the image paths."""
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    build_small_checkpoints(CHECKPOINT_DIR_224, FUNCTIONS, image_px=IMAGE_PX)
    return generate_claims_images(images)


def call_params(function: str, ref: str, index: int) -> dict[str, object]:
    """The parameters of the program's `index`-th call of `function` on one image/crop."""
    if function == "glip":
        return {"image": ref, "object_name": "car"}
    if function == "blip":
        return {"image": ref, "question": QUESTIONS[index % len(QUESTIONS)]}
    return {"image": ref, "object_name": "car", "property": PROPERTIES[index % len(PROPERTIES)]}


def best_time_s(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def compute_floor(images: list[Path], batch: int, repeats: int = 3) -> dict[str, float]:
    """Per-item cost (ms) of each function at `batch` items a pass, in this process, and the
    tasks/s the machine's cores could reach if they did nothing else."""
    from worker_models.catalogue import get_spec
    from worker_models.images import load_image_file
    from worker_models.loading import load_backend

    settings = settings_224()
    parents = [load_image_file(p) for p in images[:batch]]
    crops = [parents[i % len(parents)].crop(car_boxes()[i % 3]) for i in range(batch)]
    per_item_ms: dict[str, float] = {}
    for function in FUNCTIONS:
        backend = load_backend(function, settings)
        spec = get_spec(function)
        params = [spec.params.model_validate(call_params(function, "x", i)) for i in range(batch)]
        pixels = parents if function == "glip" else crops
        backend.run_batch(params, pixels)  # warm-up
        seconds = best_time_s(lambda b=backend, p=params, x=pixels: b.run_batch(p, x), repeats)
        per_item_ms[function] = seconds / batch * MS_PER_S
    task_ms = sum(per_item_ms[f] * n for f, n in calls_per_task().items())
    cores = os.cpu_count() or 1
    return {**per_item_ms, "task_ms": task_ms, "tasks_per_s": cores * MS_PER_S / task_ms}
