"""Fixtures of the fault suite: one rig (private Redis + worker nodes) for the session,
healed (Redis up, every node alive, cache empty) before each scenario."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import FaultRig
from tests.support.redis_server import private_redis


# checkpoint_dir: the checkpoints must exist before the rig starts workers.
@pytest.fixture(scope="session")
def rig(checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    from orchestrator.batch.claims_images import generate_claims_images

    images = tmp_path_factory.mktemp("fault-claims-images")
    generate_claims_images(images)
    # With a password (only in REDIS_PASSWORD): every scenario also shows it is honoured.
    with private_redis(appendonly=True, password=secrets.token_hex(16)) as server:
        fault_rig = FaultRig(server, images)
        try:
            fault_rig.start_nodes()
            yield fault_rig
        finally:
            fault_rig.stop()


@pytest.fixture()
def healthy(rig: FaultRig) -> Iterator[FaultRig]:
    """The rig as a scenario expects it: Redis up with AOF on, all nodes alive, no cache."""
    rig.heal()
    yield rig
    rig.assert_secret_not_logged()
