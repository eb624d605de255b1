"""Unit-test fixtures: the small checkpoints, built once per session into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicec.settings import Settings

SMALL_SEED = 0


@pytest.fixture(scope="session")
def small_checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All six small checkpoints (seed 0), built offline in a few seconds."""
    from worker_models.checkpoints import build_small_checkpoints

    folder = tmp_path_factory.mktemp("checkpoints")
    build_small_checkpoints(folder, seed=SMALL_SEED)
    return folder


@pytest.fixture(scope="session")
def small_settings(small_checkpoint_dir: Path) -> Settings:
    return Settings(checkpoints="small", checkpoint_dir=small_checkpoint_dir, torch_threads=1)
