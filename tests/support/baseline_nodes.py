"""Real baseline nodes and claims photos for the baseline tests' module fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator.batch.localpools import LocalPools, local_pools
from tests.conftest import ROOT, TEST_POOLS


@contextlib.contextmanager
def baseline_nodes(r: redis.Redis, count: int) -> Iterator[LocalPools]:
    """`count` baseline nodes on the test pools file, logging under var/test-logs."""
    log_dir = ROOT / "var" / "test-logs"
    with local_pools(str(TEST_POOLS), r, log_dir=log_dir, monolith_nodes=count) as pools:
        yield pools


def claims_photos(factory: pytest.TempPathFactory, name: str, count: int, seed: int) -> Path:
    from orchestrator.batch.claims_images import generate_claims_images

    folder = factory.mktemp(name)
    generate_claims_images(folder, count=count, seed=seed)
    return folder
