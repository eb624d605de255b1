"""Small checkpoint builds and checkpoint resolution/loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from dicec.errors import ConfigError, ModelLoadError, UnknownFunctionError
from dicec.settings import Settings
from worker_models.catalogue import MODEL_FUNCTIONS, get_spec
from worker_models.checkpoints import MARKER_FILE, SMALL_FUNCTIONS, build_small_checkpoints
from worker_models.loading import (
    checkpoint_id,
    is_small_checkpoint,
    load_backend,
    resolve_checkpoint,
)

QUICK = ["yolov8", "blip"]  # two cheap builds for the rebuild tests


def weights_hash(folder: Path) -> str:
    tensors = load_file(str(folder / "model.safetensors"))
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode() + tensors[name].numpy().tobytes())
    return digest.hexdigest()


def test_every_model_function_has_a_small_checkpoint(small_checkpoint_dir: Path) -> None:
    from worker_models.small_models import BUILDERS

    assert set(SMALL_FUNCTIONS) == set(MODEL_FUNCTIONS) == set(BUILDERS)
    for function in MODEL_FUNCTIONS:
        folder = small_checkpoint_dir / function
        marker = json.loads((folder / MARKER_FILE).read_text())
        assert marker["function"] == function
        assert marker["seed"] == 0
        assert marker["note"] == "random weights: answers are meaningless"
        assert (
            marker["architecture"]
            in json.loads((folder / "config.json").read_text())["architectures"]
        )
        assert is_small_checkpoint(folder)


def test_same_seed_same_weights_other_seed_other_weights(
    small_checkpoint_dir: Path, tmp_path: Path
) -> None:
    again = build_small_checkpoints(tmp_path / "a", QUICK, seed=0)
    other = build_small_checkpoints(tmp_path / "b", QUICK, seed=1)
    for function in QUICK:
        same = weights_hash(again[function])
        assert same == weights_hash(small_checkpoint_dir / function)
        assert weights_hash(other[function]) != same


def test_a_complete_build_is_kept_unless_forced(tmp_path: Path) -> None:
    folder = build_small_checkpoints(tmp_path, ["yolov8"])["yolov8"]
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # touch, to see if a rebuild replaces it
    stamp = weights.stat().st_mtime_ns
    build_small_checkpoints(tmp_path, ["yolov8"])
    assert weights.stat().st_mtime_ns == stamp
    build_small_checkpoints(tmp_path, ["yolov8"], force=True)
    assert weights.stat().st_mtime_ns != stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_an_incomplete_or_other_seed_folder_is_rebuilt(tmp_path: Path) -> None:
    folder = build_small_checkpoints(tmp_path, ["yolov8"])["yolov8"]
    (folder / MARKER_FILE).unlink()
    assert not is_small_checkpoint(folder)
    build_small_checkpoints(tmp_path, ["yolov8"])
    assert is_small_checkpoint(folder)
    before = weights_hash(folder)
    build_small_checkpoints(tmp_path, ["yolov8"], seed=3)
    assert weights_hash(folder) != before


def test_unknown_function_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no small checkpoint builder for 'sam'"):
        build_small_checkpoints(tmp_path, ["sam"])


def test_missing_small_checkpoint_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DICEC_CHECKPOINT_BLIP", raising=False)
    settings = Settings(checkpoints="small", checkpoint_dir=Path("var/checkpoints-absent"))
    message = (
        "small checkpoint for 'blip' not found at var/checkpoints-absent/blip: "
        "run `dicec checkpoints build`"
    )
    with pytest.raises(ModelLoadError) as exc:
        resolve_checkpoint("blip", settings)
    assert str(exc.value) == message
    with pytest.raises(ModelLoadError, match="not found at"):
        load_backend("blip", settings)


def test_resolution_modes_and_override(
    small_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DICEC_CHECKPOINT_BLIP", raising=False)
    expected = str(small_settings.checkpoint_dir / "blip")
    assert resolve_checkpoint("blip", small_settings) == expected
    real = small_settings.model_copy(update={"checkpoints": "real"})
    assert resolve_checkpoint("blip", real) == get_spec("blip").real_checkpoint
    monkeypatch.setenv("DICEC_CHECKPOINT_BLIP", "org/other-blip")
    # Settings read the environment once, when they are made.
    small_overridden = Settings(checkpoints="small", checkpoint_dir=small_settings.checkpoint_dir)
    assert small_overridden.checkpoint_overrides == {"blip": "org/other-blip"}
    assert resolve_checkpoint("blip", small_overridden) == "org/other-blip"
    real_overridden = small_overridden.model_copy(update={"checkpoints": "real"})
    assert resolve_checkpoint("blip", real_overridden) == "org/other-blip"
    bad = small_settings.model_copy(update={"checkpoints": "medium"})
    with pytest.raises(ConfigError, match="expected one of small, real"):
        resolve_checkpoint("xvlm", bad)
    with pytest.raises(UnknownFunctionError):
        resolve_checkpoint("sam", small_settings)


def test_checkpoint_id_is_stable_and_follows_the_weights(
    small_settings: Settings, tmp_path: Path
) -> None:
    first = checkpoint_id("xvlm", small_settings)
    assert first == checkpoint_id("xvlm", small_settings)
    assert first.startswith(str(small_settings.checkpoint_dir / "xvlm") + "#")
    build_small_checkpoints(tmp_path, ["xvlm"], seed=5)
    other = small_settings.model_copy(update={"checkpoint_dir": tmp_path})
    assert checkpoint_id("xvlm", other).split("#")[1] != first.split("#")[1]


def test_a_detectors_cache_id_follows_its_limits(small_settings: Settings) -> None:
    """A result found with top-k 5 must not answer a call made under top-k 2."""
    first = checkpoint_id("glip", small_settings)
    fewer = small_settings.model_copy(update={"detect_top_k": small_settings.detect_top_k - 1})
    stricter = small_settings.model_copy(update={"detect_score_threshold": 0.9})
    assert checkpoint_id("glip", fewer) != first
    assert checkpoint_id("glip", stricter) != first
    # Limits are no part of a non-detector's id.
    assert checkpoint_id("blip", fewer) == checkpoint_id("blip", small_settings)


def test_a_broken_checkpoint_fails_as_a_model_load_error(
    small_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    monkeypatch.setenv("DICEC_CHECKPOINT_DEPTH", str(broken))
    overridden = Settings(checkpoints="small", checkpoint_dir=small_settings.checkpoint_dir)
    with pytest.raises(ModelLoadError, match=rf"cannot load 'depth' from checkpoint '{broken}'"):
        load_backend("depth", overridden)


def test_noop_needs_no_checkpoint(small_settings: Settings) -> None:
    backend = load_backend("noop", small_settings)
    assert backend.function == "noop" and backend.checkpoint == ""


def test_unknown_function_has_no_backend(small_settings: Settings) -> None:
    with pytest.raises(UnknownFunctionError, match="unknown function 'sam'"):
        load_backend("sam", small_settings)


def test_loading_a_model_sets_the_torch_thread_count(small_settings: Settings) -> None:
    import torch

    load_backend("xvlm", small_settings)
    assert torch.get_num_threads() == small_settings.torch_threads


def test_the_224_px_build_is_the_same_architecture_for_larger_images(
    small_checkpoint_dir: Path, tmp_path: Path, small_settings: Settings
) -> None:
    from worker_models.checkpoints import default_dir_for, is_complete

    assert default_dir_for(Path("var/checkpoints"), 64) == Path("var/checkpoints")
    assert default_dir_for(Path("var/checkpoints"), 224) == Path("var/checkpoints-224")
    (folder,) = build_small_checkpoints(tmp_path, ["xvlm"], image_px=224).values()
    config = json.loads((folder / "config.json").read_text())
    small = json.loads((small_checkpoint_dir / "xvlm" / "config.json").read_text())
    assert config["vision_config"]["image_size"] == 224
    assert small["vision_config"]["image_size"] == 64
    assert config["vision_config"]["hidden_size"] == small["vision_config"]["hidden_size"]
    assert is_complete(folder, "xvlm", 0, 224) and not is_complete(folder, "xvlm", 0)
    backend = load_backend("xvlm", small_settings.model_copy(update={"checkpoint_dir": tmp_path}))
    assert backend.processor.image_processor.crop_size == {"height": 224, "width": 224}
    with pytest.raises(ConfigError, match="choose one of 64, 224"):
        build_small_checkpoints(tmp_path, ["xvlm"], image_px=100)
