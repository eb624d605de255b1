"""Which checkpoint serves a function, and loading its backend once per worker process.

Resolution order for a function's checkpoint:
1. `settings.checkpoint_overrides`, from `DICEC_CHECKPOINT_<FUNCTION>` (a folder or a hub id);
2. `settings.checkpoints == "small"`: `settings.checkpoint_dir / <function>`, which must
   hold a small checkpoint built by `dicec checkpoints build`;
3. `settings.checkpoints == "real"`: the catalogue's public checkpoint (a hub id).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable
from pathlib import Path

from dicec.errors import ConfigError, ModelLoadError
from dicec.settings import Settings
from worker_models.backends.base import Backend
from worker_models.catalogue import get_spec
from worker_models.checkpoints import MARKER_FILE, quiet_transformers, read_marker

CHECKPOINT_MODES = ("small", "real")
ID_FILES = ("config.json", MARKER_FILE)
ID_HASH_CHARS = 16
# function -> (module, class) of its backend; detectors also take the detection limits.
BACKENDS = {
    "glip": ("worker_models.backends.glip", "GlipBackend"),
    "blip": ("worker_models.backends.blip", "BlipBackend"),
    "xvlm": ("worker_models.backends.xvlm", "XvlmBackend"),
    "yolov8": ("worker_models.backends.yolov8", "Yolov8Backend"),
    "blip2": ("worker_models.backends.blip2", "Blip2Backend"),
    "depth": ("worker_models.backends.depth", "DepthBackend"),
    "noop": ("worker_models.backends.noop", "NoopBackend"),
}
DETECTORS = ("glip", "yolov8")

_threads_set = False


def is_small_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a folder holding a complete small (random-weight) checkpoint."""
    folder = Path(path)
    marker = read_marker(folder)
    return marker is not None and (folder / "config.json").is_file()


def resolve_checkpoint(function: str, settings: Settings) -> str:
    """The folder or hub id the function's model loads from (see the module docstring)."""
    spec = get_spec(function)
    override = settings.checkpoint_overrides.get(function)
    if override:
        return override
    if function == "noop":
        return ""
    if settings.checkpoints == "small":
        folder = settings.checkpoint_dir / function
        if not is_small_checkpoint(folder):
            raise ModelLoadError(
                f"small checkpoint for {function!r} not found at {folder}: "
                "run `dicec checkpoints build`"
            )
        return str(folder)
    if settings.checkpoints == "real":
        return spec.real_checkpoint
    raise ConfigError(
        f"DICEC_CHECKPOINTS={settings.checkpoints!r}: expected one of {', '.join(CHECKPOINT_MODES)}"
    )


def checkpoint_id(function: str, settings: Settings) -> str:
    """A stable id of the weights serving `function`, for cache keys.

    The resolved location plus a hash of its config and marker: rebuilding a small
    checkpoint with another seed or builder version changes the id, so cached results of
    the old weights are not served for the new ones. A detector's limits (top-k, score
    threshold) and depth's scale change its answers as much as its weights do, so they
    are part of it.
    """
    where = resolve_checkpoint(function, settings)
    digest = hashlib.sha256(where.encode())
    if function in DETECTORS:
        limits = f"\0top_k={settings.detect_top_k}\0threshold={settings.detect_score_threshold}"
        digest.update(limits.encode())
    if function == "depth":  # its scale changes every answer
        digest.update(f"\0disparity_at_1m={settings.depth_disparity_at_1m}".encode())
    folder = Path(where) if where else None
    if folder is not None and folder.is_dir():
        for name in ID_FILES:
            path = folder / name
            if path.is_file():
                digest.update(name.encode() + b"\0" + path.read_bytes())
    return f"{where}#{digest.hexdigest()[:ID_HASH_CHARS]}"


def _construct(function: str, checkpoint: str, device: str, settings: Settings) -> Backend:
    """Import the backend's module only now: torch is heavy, and noop needs none."""
    module, name = BACKENDS[function]
    backend_cls = getattr(importlib.import_module(module), name)
    if function in DETECTORS:
        from worker_models.backends.common import DetectionLimits

        limits = DetectionLimits(settings.detect_top_k, settings.detect_score_threshold)
        return backend_cls(checkpoint, limits, device)
    if function == "depth":
        return backend_cls(checkpoint, device, settings.depth_disparity_at_1m)
    return backend_cls(checkpoint, device)


def _set_threads_once(settings: Settings) -> None:
    """Worker pools share few cores: one torch thread pool size, set once per process."""
    global _threads_set
    if _threads_set:
        return
    import torch

    torch.set_num_threads(max(1, settings.torch_threads))
    _threads_set = True


def import_backend_code(functions: Iterable[str]) -> None:
    """Import what the functions' backends run on (their modules, torch, transformers'
    model base) without loading a model. A pool's parent does this once, before it forks
    its pool processes: each process it forks, at start or after one died, then starts
    without importing them again (about 4 of its 5 CPU-s with the small checkpoints)."""
    models = False
    for function in functions:
        if function in BACKENDS:
            importlib.import_module(BACKENDS[function][0])
            models = models or function != "noop"
    if models:
        importlib.import_module("transformers.modeling_utils")


def load_backend(function: str, settings: Settings, device: str = "cpu") -> Backend:
    """The function's model loaded on `device`; any failure is a ModelLoadError."""
    get_spec(function)  # raises UnknownFunctionError for names outside the catalogue
    if function not in BACKENDS:
        raise ModelLoadError(f"no backend implements function {function!r}")
    checkpoint = resolve_checkpoint(function, settings)
    if function == "noop":
        return _construct(function, checkpoint, device, settings)
    _set_threads_once(settings)
    try:
        with quiet_transformers():
            return _construct(function, checkpoint, device, settings)
    except ModelLoadError:
        raise
    except Exception as exc:  # third-party loaders raise anything; name it
        raise ModelLoadError(
            f"cannot load {function!r} from checkpoint {checkpoint!r}: {type(exc).__name__}: {exc}"
        ) from exc
