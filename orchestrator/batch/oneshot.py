"""`dicec run PROGRAM --image IMG`: one program, one image, through the real system."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from dicec.errors import BatchError, ConfigError
from dicec.redis_conn import async_client, redacted_url, sync_client
from dicec.services import ensure_redis, redis_reachable
from dicec.settings import Settings, get_settings
from orchestrator.batch.localpools import local_pools
from orchestrator.batch.task import TaskImages, TaskOutcome, run_task
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import Limits, compile_program


async def run_one(
    program: Path,
    image: Path,
    settings: Settings,
    pools_file: str | None = None,
    start_pools: bool = False,
) -> TaskOutcome:
    try:
        source = program.read_text()
    except OSError as exc:
        raise BatchError(f"cannot read program {program}: {exc.strerror}") from None
    if not image.is_file():
        raise BatchError(f"image {image} does not exist")
    compiled = compile_program(source, program.name, Limits.from_settings(settings))
    with ExitStack() as stack:
        if start_pools:
            stack.enter_context(ensure_redis(settings))
            settings = get_settings()
            stack.enter_context(local_pools(pools_file, sync_client(settings)))
        if not redis_reachable(settings):
            raise ConfigError(
                f"no Redis answers at {redacted_url(settings.redis_url)}; start one, set "
                "REDIS_URL, or pass --local-pools (starts an embedded one)"
            )
        aredis = async_client(settings)
        dispatcher = Dispatcher(settings, aredis)
        await dispatcher.start()
        jail = Jail() if settings.program_runner == "jail" else None
        try:
            images = TaskImages(aredis)
            return await run_task(
                compiled, image, lambda: images.load(image), dispatcher,
                jail=jail, max_calls=settings.program_max_calls,
            )  # fmt: skip
        finally:
            if jail is not None:
                jail.close()
            await dispatcher.stop()
            await aredis.aclose()
