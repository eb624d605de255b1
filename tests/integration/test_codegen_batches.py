"""Compiled programs through the real system: the distributed program the compiler makes
gives the same batch results (per task: status, value, printed lines, number of calls) as
the serial program it came from, through real worker pools, with the call cache off."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from codegen.distribute import distribute
from dicec import keys
from dicec.records import TaskRecord
from dicec.settings import Settings, get_settings
from orchestrator.batch.driver import run_batch
from orchestrator.batch.runner import new_meta
from tests.conftest import REFERENCE_PROGRAMS, TEST_POOLS

TASKS = 6
SEED = 5
SERIAL_PROGRAMS = [
    "claims_serial.py",
    "litter_imagepatch_serial.py",
    "muffins_imagepatch_serial.py",
]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orchestrator.batch.claims_images import generate_claims_images

    folder = tmp_path_factory.mktemp("codegen-images")
    generate_claims_images(folder, count=3, seed=11)
    return folder


def _run(program: Path, images: Path, settings: Settings, redis_client) -> list[TaskRecord]:
    meta = new_meta(
        program_path=program,
        images_dir=images,
        tasks=TASKS,
        seed=SEED,
        pools_file=str(TEST_POOLS),
        settings=settings,
        batch_id=f"test-codegen-{uuid.uuid4().hex[:8]}",
    )
    try:
        asyncio.run(run_batch(meta, settings))
        raw = redis_client.hgetall(keys.batch_tasks_key(meta.batch_id))
        records = [TaskRecord.model_validate_json(v) for v in raw.values()]
    finally:
        redis_client.delete(
            keys.batch_tasks_key(meta.batch_id),
            keys.batch_calls_key(meta.batch_id),
            keys.batch_meta_key(meta.batch_id),
        )
        redis_client.zrem(keys.batch_index_key(), meta.batch_id)
    return sorted(records, key=lambda r: r.index)


@pytest.mark.parametrize("name", SERIAL_PROGRAMS)
def test_compiled_program_gives_the_serial_programs_batch_results(
    pools,
    redis_client,
    images: Path,
    tmp_path: Path,
    name: str,
) -> None:
    serial = tmp_path / name
    serial.write_text((REFERENCE_PROGRAMS / name).read_text())
    distributed = tmp_path / name.replace("serial", "compiled")
    distributed.write_text(distribute(serial.read_text(), name).source)
    settings = get_settings().model_copy(update={"cache_enabled": False})

    one = _run(serial, images, settings, redis_client)
    two = _run(distributed, images, settings, redis_client)

    assert len(one) == len(two) == TASKS
    for a, b in zip(one, two, strict=True):
        assert (a.image, a.status, a.error_type) == (b.image, b.status, b.error_type)
        assert (a.value, a.printed, a.calls) == (b.value, b.printed, b.calls)
    assert any(r.status == "ok" for r in one) and max(r.calls for r in one) > 1
