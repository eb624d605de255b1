"""Profile files: interpolation, the shipped reference profile, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicec.errors import ConfigError
from orchestrator.planning.profiles import FunctionProfile, load_profile, save_profile


def fp(*points: tuple[int, float]) -> FunctionProfile:
    return FunctionProfile.model_validate(
        {"points": [{"batch_size": b, "service_s": s} for b, s in points]}
    )


def test_interpolates_and_extrapolates_linearly() -> None:
    f = fp((4, 2.5), (1, 1.0), (8, 3.5))
    assert f.service_s(1) == 1.0
    assert f.service_s(2) == pytest.approx(1.5)
    assert f.service_s(6) == pytest.approx(3.0)
    assert f.service_s(16) == pytest.approx(5.5)  # slope of the last segment
    assert f.min_per_call_s(8) == pytest.approx(3.5 / 8)


def test_one_point_means_no_batching_gain() -> None:
    assert fp((1, 0.2)).service_s(5) == pytest.approx(1.0)


def test_duplicate_batch_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        fp((1, 1.0), (1, 2.0))


def test_reference_profile_covers_the_paper_hardware() -> None:
    ref = load_profile("reference")
    assert not ref.measured
    assert set(ref.hardware) == {"A100", "A6000", "A4000", "JetsonOrin"}
    # the edge device (DiCE-M's litter program) knows only the litter functions
    assert set(ref.hw("JetsonOrin").functions) == {"yolov8", "depth", "blip2"}
    assert ref.hw("A100").price_per_hour == 2.2
    assert ref.hw("A6000").price_per_hour + ref.hw("A4000").price_per_hour == pytest.approx(1.3)
    for fn in ("glip", "blip", "xvlm"):
        # smaller cards are slower, and batching amortises the fixed part
        assert ref.service_s("A100", fn) < ref.service_s("A6000", fn) < ref.service_s("A4000", fn)
        assert ref.service_s("A100", fn, 8) < 8 * ref.service_s("A100", fn)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    ref = load_profile("reference")
    path = tmp_path / "p.yaml"
    save_profile(ref, path, header="a header")
    assert path.read_text().startswith("# a header\n")
    assert load_profile(path) == ref


def test_bad_profiles_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_profile("no-such-profile")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hardware: {T: {price_per_hour: -1}}\n")
    with pytest.raises(ConfigError, match="price_per_hour"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="no hardware 'H100'"):
        load_profile("reference").hw("H100")
