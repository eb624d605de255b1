"""Each reference program, unmodified, through real worker processes gives the same output
on the same image as an in-process run of the same functions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dicec.redis_conn import async_client
from dicec.settings import get_settings
from orchestrator.batch.monolith import monolith_pool
from orchestrator.batch.task import TaskImages, TaskOutcome, run_task
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.dispatch.local_calls import LocalCalls
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import compile_program
from tests.conftest import REFERENCE_PROGRAMS, TEST_POOLS
from worker_models.service import build_service_for_pool

PROGRAMS = [
    "claims_serial.py",
    "claims_distributed.py",
    "litter_imagepatch_serial.py",
    "litter_hermod_distributed.py",
    "muffins_imagepatch_serial.py",
]


@pytest.fixture(scope="module")
def image_path(tmp_path_factory) -> Path:
    from orchestrator.batch.claims_images import generate_claims_images

    return generate_claims_images(tmp_path_factory.mktemp("claims"), count=2, seed=3)[1]


def uncached():
    """Settings without the call cache: both sides compute every call now. A result
    cached by an earlier test was computed in another batch, and with random weights a
    score can sit so near xvlm's 0.5 that a batch's float rounding flips the answer."""
    return get_settings().model_copy(update={"cache_enabled": False})


@pytest.fixture(scope="module")
def local_service(checkpoint_dir):  # checkpoints must exist
    return build_service_for_pool(monolith_pool(str(TEST_POOLS)), uncached())


async def _through_queues(source: str, name: str, image: Path) -> TaskOutcome:
    settings = uncached()
    aredis = async_client(settings)
    dispatcher = Dispatcher(settings, aredis)
    await dispatcher.start()
    try:
        images = TaskImages(aredis)
        return await run_task(
            compile_program(source, name), image, lambda: images.load(image), dispatcher
        )
    finally:
        await dispatcher.stop()
        await aredis.aclose()


async def _in_process(source: str, name: str, image: Path, service) -> TaskOutcome:
    images = TaskImages(None)
    return await run_task(
        compile_program(source, name),
        image,
        lambda: images.load(image),
        LocalCalls.in_process(service, "in-process"),
    )


@pytest.mark.parametrize("name", PROGRAMS)
def test_reference_program_same_output_through_workers_and_in_process(
    pools, local_service, image_path, name
):
    source = (REFERENCE_PROGRAMS / name).read_text()
    remote = asyncio.run(_through_queues(source, name, image_path))
    local = asyncio.run(_in_process(source, name, image_path, local_service))
    assert remote.ok, f"{remote.error_type}: {remote.error}"
    assert local.ok, f"{local.error_type}: {local.error}"
    assert remote.calls >= 1
    assert (remote.printed, remote.value) == (local.printed, local.value)
    assert remote.calls == local.calls
    if name.startswith("claims"):
        assert remote.printed, "the claims program prints one line per car (or 'No cars')"


async def _jailed_local(source: str, name: str, image: Path, service) -> TaskOutcome:
    """What a baseline monolith node does per task: its local models, the program jailed
    (the image stored in Redis first, as the batch does before a node sees the task)."""
    aredis = async_client(get_settings())
    images = TaskImages(aredis)
    jail = Jail()
    try:
        return await run_task(
            compile_program(source, name),
            image,
            lambda: images.load(image),
            LocalCalls.in_process(service, "jailed"),
            jail=jail,
        )
    finally:
        jail.close()
        await aredis.aclose()


@pytest.mark.parametrize("name", PROGRAMS)
def test_reference_program_same_output_jailed_and_in_process(local_service, image_path, name):
    source = (REFERENCE_PROGRAMS / name).read_text()
    jailed = asyncio.run(_jailed_local(source, name, image_path, local_service))
    local = asyncio.run(_in_process(source, name, image_path, local_service))
    assert jailed.ok, f"{jailed.error_type}: {jailed.error}"
    assert (jailed.printed, jailed.value, jailed.calls) == (local.printed, local.value, local.calls)
