"""A batch's images: each file read and decoded once, however many tasks start on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

from dicec.errors import DicecError
from dicec.redis_conn import async_client
from dicec.settings import get_settings
from orchestrator.batch.task import TaskImages


def _photo(path: Path, color: str) -> Path:
    Image.new("RGB", (40, 30), color).save(path)
    return path


def test_tasks_starting_together_share_one_decode(tmp_path: Path, redis_client) -> None:
    """The tasks of a batch start together; each photo's later tasks wait for the load
    its first task began (while that one awaits Redis) instead of decoding it again."""
    photos = [_photo(tmp_path / f"{c}.png", c) for c in ("red", "green", "blue")]

    async def main() -> list[object]:
        aredis = async_client(get_settings())
        try:
            images = TaskImages(aredis)
            return await asyncio.gather(*(images.load(photos[i % 3]) for i in range(12)))
        finally:
            await aredis.aclose()

    loaded = asyncio.run(main())
    assert len({id(image) for image in loaded}) == 3, "a photo was decoded more than once"
    assert [loaded[i].getpixel((0, 0)) for i in range(3)] == [(255, 0, 0), (0, 128, 0),
                                                              (0, 0, 255)]  # fmt: skip


def test_a_bad_file_fails_every_task_that_waited_for_it(tmp_path: Path, redis_client) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")

    async def main() -> list[object]:
        aredis = async_client(get_settings())
        try:
            images = TaskImages(aredis)
            return await asyncio.gather(*(images.load(bad) for _ in range(3)),
                                        return_exceptions=True)  # fmt: skip
        finally:
            await aredis.aclose()

    failures = asyncio.run(main())
    assert all(isinstance(f, DicecError) for f in failures), failures
    with pytest.raises(DicecError):  # not cached: the next task tries the file again
        asyncio.run(TaskImages(None).load(bad))
