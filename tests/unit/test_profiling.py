"""`dicec profile`'s measurement helpers (the model backends land in worker_models.loading)."""

from __future__ import annotations

import pytest

from dicec.errors import ConfigError
from orchestrator.planning.profiles import FunctionProfile
from orchestrator.planning.profiling import (
    parse_batch_sizes,
    sample_image,
    sample_params,
    time_batches,
)
from worker_models.catalogue import CATALOGUE


def test_every_catalogue_function_has_a_valid_sample_call() -> None:
    for name, spec in CATALOGUE.items():
        params = sample_params(name)
        assert isinstance(params, spec.params)
        if spec.image_params():
            image = sample_image(name)
            assert image.mode == "RGB" and min(image.size) >= 160


def test_time_batches_measures_a_real_workload() -> None:
    params = sample_params("noop")

    def run(params_list: list[object], images: list[object]) -> list[int]:
        # real work proportional to the batch: summing a range per call
        return [sum(range(20_000)) for _ in params_list]

    points = time_batches(run, params, None, (1, 4, 16), repeats=3)
    assert [p.batch_size for p in points] == [1, 4, 16]
    assert all(p.service_s > 0 for p in points)
    profile = FunctionProfile(points=points)
    assert profile.service_s(8) > 0


def test_batch_sizes_parse_or_fail_clearly() -> None:
    assert parse_batch_sizes("8,1, 2,4,4") == (1, 2, 4, 8)
    with pytest.raises(ConfigError, match="expected integers"):
        parse_batch_sizes("1,two")
    with pytest.raises(ConfigError, match=">= 1"):
        parse_batch_sizes("0,1")
