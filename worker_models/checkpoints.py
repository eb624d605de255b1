"""Build the small offline checkpoints: real architectures, tiny sizes, random weights.

`build_small_checkpoints(out_dir)` writes one folder per model function,
`out_dir/<function>/`, loadable with `from_pretrained` like any hub checkpoint, plus a
marker file saying what it is. It needs no network, takes seconds, and is deterministic:
the same seed gives the same weights (the tests check the weights' hash).

A folder is built in a temporary sibling and renamed into place, so a crashed or
concurrent build never leaves a half-written checkpoint behind a valid-looking name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dicec.errors import ConfigError

log = logging.getLogger(__name__)

MARKER_FILE = "dicec_small_checkpoint.json"
# Bump when a builder changes what it writes: older folders are then rebuilt.
BUILD_VERSION = 2
NOTE = "random weights: answers are meaningless"
# The model functions; worker_models.small_models holds one builder each. Importing it
# pulls in torch, so it is imported only to build.
SMALL_FUNCTIONS = ("glip", "blip", "xvlm", "yolov8", "blip2", "depth")
# Image side of the default build (tests: calls cost milliseconds, so batches measure
# dispatch), and the sizes `dicec checkpoints build --image-size` accepts. At 224 px the
# same architectures do the image-tower work of real checkpoints (196 patches).
DEFAULT_IMAGE_PX = 64
IMAGE_SIZES_PX = (64, 224)


def read_marker(folder: Path) -> dict[str, object] | None:
    """The marker of a small checkpoint folder, or None if there is none (or it is bad)."""
    try:
        data = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(
    folder: Path, function: str, seed: int | None = None, image_px: int = DEFAULT_IMAGE_PX
) -> bool:
    """A finished build of `function` by this builder version, at this image size (and
    with this seed, if given)."""
    marker = read_marker(folder)
    if marker is None or not (folder / "config.json").is_file():
        return False
    if marker.get("function") != function or marker.get("build_version") != BUILD_VERSION:
        return False
    if marker.get("image_px", DEFAULT_IMAGE_PX) != image_px:
        return False
    return seed is None or marker.get("seed") == seed


def default_dir_for(base: Path, image_px: int) -> Path:
    """Where a build at `image_px` goes by default: `base` itself at the default size, a
    sibling `<base>-<px>` otherwise, so the test checkpoints are never replaced."""
    return base if image_px == DEFAULT_IMAGE_PX else base.with_name(f"{base.name}-{image_px}")


def build_small_checkpoints(
    out_dir: Path,
    functions: Iterable[str] | None = None,
    seed: int = 0,
    force: bool = False,
    image_px: int = DEFAULT_IMAGE_PX,
) -> dict[str, Path]:
    """Build (or keep) the small checkpoint of each function; returns function -> folder.

    A folder that already holds a complete build with the same seed and image size is
    kept unless `force` is set.
    """
    if image_px not in IMAGE_SIZES_PX:
        raise ConfigError(
            f"image size {image_px} px: choose one of {', '.join(map(str, IMAGE_SIZES_PX))}"
        )
    wanted = list(functions) if functions is not None else list(SMALL_FUNCTIONS)
    unknown = [f for f in wanted if f not in SMALL_FUNCTIONS]
    if unknown:
        raise ConfigError(
            f"no small checkpoint builder for {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(SMALL_FUNCTIONS)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built = {}
    for function in wanted:
        target = out_dir / function
        if force or not is_complete(target, function, seed, image_px):
            _build_one(function, target, seed, image_px)
        built[function] = target
    return built


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or "torchvision missing, using PIL" notices inside this block."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _build_one(function: str, target: Path, seed: int, image_px: int) -> None:
    from worker_models.small_models import build_model_dir

    tmp = Path(tempfile.mkdtemp(prefix=f".{function}.", dir=target.parent))
    try:
        with quiet_transformers():
            architecture = build_model_dir(function, tmp, seed, image_px)
        marker = {
            "function": function,
            "architecture": architecture,
            "seed": seed,
            "image_px": image_px,
            "build_version": BUILD_VERSION,
            "note": NOTE,
        }
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _replace_dir(tmp, target)
        log.info("built small checkpoint %s (%s) at %s", function, architecture, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished build into place; a concurrent builder's result is as good."""
    if target.exists():
        shutil.rmtree(target)
    try:
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():  # not a lost race: a real failure
            raise
