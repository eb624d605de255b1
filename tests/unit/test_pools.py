from pathlib import Path

import pytest

from dicec.errors import ConfigError
from worker_models.pools import load_pools

GOOD = """
gpu_types:
  A6000: {price_per_hour: 0.8}
pools:
  - {name: detect, gpu_type: A6000, functions: [glip]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(text)
    return path


def test_shipped_pools_files_load_and_serve_every_model():
    for name in ("local", "paper"):
        pools = load_pools(name)
        assert {"glip", "blip", "xvlm", "yolov8", "blip2", "depth"} <= pools.served_functions()
        assert pools.baseline is not None


def test_good_file(tmp_path):
    pools = load_pools(write(tmp_path, GOOD))
    assert pools.pool("detect").functions == ["glip"]
    assert pools.price_per_hour(pools.pool("detect")) == 0.8


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.replace("[glip]", "[glip, sam]"), "unknown function 'sam'"),
        (GOOD.replace("gpu_type: A6000", "gpu_type: H100"), "GPU type 'H100' has no price"),
        (
            GOOD + "  - {name: detect, gpu_type: A6000, functions: [blip]}\n",
            "duplicate pool name 'detect'",
        ),
        ("pools: [", "not valid YAML"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_bad_files_are_refused_with_the_problem_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_pools(write(tmp_path, text))


def test_unknown_pool_and_missing_file():
    with pytest.raises(ConfigError, match="unknown pool 'nope'"):
        load_pools("local").pool("nope")
    with pytest.raises(ConfigError, match="not found"):
        load_pools("no-such-pools-file")
