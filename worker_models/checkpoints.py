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


def read_marker(folder: Path) -> dict[str, object] | None:
    """The marker of a small checkpoint folder, or None if there is none (or it is bad)."""
    try:
        data = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(folder: Path, function: str, seed: int | None = None) -> bool:
    """A finished build of `function` by this builder version (and this seed, if given)."""
    marker = read_marker(folder)
    if marker is None or not (folder / "config.json").is_file():
        return False
    if marker.get("function") != function or marker.get("build_version") != BUILD_VERSION:
        return False
    return seed is None or marker.get("seed") == seed


def build_small_checkpoints(
    out_dir: Path,
    functions: Iterable[str] | None = None,
    seed: int = 0,
    force: bool = False,
) -> dict[str, Path]:
    """Build (or keep) the small checkpoint of each function; returns function -> folder.

    A folder that already holds a complete build with the same seed is kept unless
    `force` is set.
    """
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
        if force or not is_complete(target, function, seed):
            _build_one(function, target, seed)
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


def _build_one(function: str, target: Path, seed: int) -> None:
    from worker_models.small_models import build_model_dir

    tmp = Path(tempfile.mkdtemp(prefix=f".{function}.", dir=target.parent))
    try:
        with quiet_transformers():
            architecture = build_model_dir(function, tmp, seed)
        marker = {
            "function": function,
            "architecture": architecture,
            "seed": seed,
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
