"""`dicec profile`: measure each function's service time against batch size, here.

The model backends are called directly (worker_models.loading.load_backend), as a worker
process would after start-up: no queue, no Redis. Per GPU type of the pools file, per
function its pools host, per batch size: warm-up passes, then the median of timed ones.
The result is a profile file (orchestrator.planning.profiles) the simulator and planner read.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from dicec.errors import ConfigError
from dicec.settings import Settings
from orchestrator.planning.profiles import FunctionProfile, HardwareProfile, Profile, ServicePoint
from worker_models.catalogue import Params, get_spec
from worker_models.pools import Pool, PoolsFile

DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
DEFAULT_REPEATS = 3
WARMUP_PASSES = 1
SCENE_SIZE = (640, 480)  # a whole image: what detection functions see
CROP_SIZE = (224, 160)  # a car's crop: what the per-object functions see
CROP_FUNCTIONS = frozenset({"blip", "xvlm", "blip2"})
# Parameters of one representative call per function (the claims program's questions).
SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "glip": {"object_name": "car"},
    "blip": {"question": "What is the color of the car?"},
    "xvlm": {"object_name": "car", "property": "damaged"},
    "yolov8": {},
    "blip2": {"query": "What is in the image?"},
    "depth": {},
    "noop": {"value": 1},
}
SAMPLE_IMAGE_REF = "profile-sample"

Progress = Callable[[str], None]


def sample_image(function: str, image: Image.Image | None = None) -> Image.Image:
    """The caller's image (resized for per-object functions), or a synthetic one."""
    size = CROP_SIZE if function in CROP_FUNCTIONS else SCENE_SIZE
    if image is not None:
        return image.convert("RGB").resize(size)
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient)
    )


def sample_params(function: str) -> Params:
    spec = get_spec(function)
    raw = dict(SAMPLE_PARAMS.get(function, {}))
    if spec.image_params():
        raw[spec.image_params()[0]] = SAMPLE_IMAGE_REF
    return spec.params.model_validate(raw)


def time_batches(
    run: Callable[[list[Params], list[Image.Image | None]], object],
    params: Params,
    image: Image.Image | None,
    batch_sizes: tuple[int, ...],
    repeats: int = DEFAULT_REPEATS,
) -> list[ServicePoint]:
    """Median seconds of one pass over b copies of the call, per batch size."""
    points = []
    for size in batch_sizes:
        args = ([params] * size, [image] * size)
        for _ in range(WARMUP_PASSES):
            run(*args)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            run(*args)
            samples.append(time.perf_counter() - started)
        points.append(
            ServicePoint(batch_size=size, service_s=max(statistics.median(samples), 1e-6))
        )
    return points


def hardware_profile(pools: PoolsFile, pool: Pool) -> HardwareProfile:
    """A profile of a pool's GPU type with no functions yet, as its pools file prices it."""
    gpu = pools.gpu_types[pool.gpu_type]
    return HardwareProfile(
        price_per_hour=gpu.price_per_hour,
        memory_gb=gpu.memory_gb,
        product_label=gpu.product_label,
        device=pool.device,
    )


def describe_points(points: list[ServicePoint]) -> str:
    return ", ".join(f"b{p.batch_size}={1000 * p.service_s:.1f} ms" for p in points)


def measure_profile(
    pools: PoolsFile,
    settings: Settings,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    repeats: int = DEFAULT_REPEATS,
    functions: list[str] | None = None,
    image: Image.Image | None = None,
    progress: Progress | None = None,
) -> Profile:
    """A measured profile for every GPU type of the pools file (its pools' functions)."""
    from worker_models.loading import load_backend

    hardware: dict[str, HardwareProfile] = {}
    for pool in pools.pools:
        hw = hardware.setdefault(pool.gpu_type, hardware_profile(pools, pool))
        for function in pool.functions:
            if function in hw.functions or (functions and function not in functions):
                continue
            backend = load_backend(function, settings, device=pool.device)
            points = time_batches(
                backend.run_batch,
                sample_params(function),
                sample_image(function, image) if get_spec(function).image_params() else None,
                batch_sizes,
                repeats,
            )
            hw.functions[function] = FunctionProfile(points=points)
            if progress:
                progress(f"{pool.gpu_type} {function}: {describe_points(points)}")
    if not any(hw.functions for hw in hardware.values()):
        raise ConfigError(f"pools file {pools.name!r}: no function selected to profile")
    return Profile(
        name=f"measured-{pools.name}",
        description=f"measured by `dicec profile` here; checkpoints {settings.checkpoints!r}",
        measured=True,
        hardware=hardware,
    )


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise ConfigError(f"--batch-sizes {text!r}: expected integers like 1,2,4,8") from None
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"--batch-sizes {text!r}: sizes must be >= 1")
    return sizes


def load_image(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError as exc:
        raise ConfigError(f"image {path}: cannot be read: {exc}") from exc
