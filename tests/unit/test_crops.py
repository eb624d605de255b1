"""Ship only the crop: calls of remote functions get their crop's own pixels."""

from __future__ import annotations

import asyncio
import io

import redis
from PIL import Image

from dicec.redis_conn import async_client
from dicec.settings import get_settings
from orchestrator.dispatch.crops import CropShipper
from worker_models.calls import PreparedCall
from worker_models.catalogue import get_spec
from worker_models.imageref import ImageRef, ImageStore, encode_png


def _photo() -> Image.Image:
    image = Image.new("RGB", (64, 48), "white")
    image.paste((200, 10, 10), (10, 10, 30, 40))
    return image


def test_remote_crop_is_cut_and_stored_local_one_is_left(redis_client: redis.Redis) -> None:
    parent = ImageStore(redis_client).put(encode_png(_photo()))
    crop = str(parent.crop((10, 10, 30, 40)))

    async def prepare(function: str) -> tuple[PreparedCall, dict]:
        aredis = async_client(get_settings())
        try:
            shipper = CropShipper(aredis, {"depth"})
            prepared = PreparedCall(get_spec(function), {"image": crop})
            params = dict(prepared.params)
            await shipper.prepare(prepared, params)
            return prepared, params
        finally:
            await aredis.aclose()

    remote, params = asyncio.run(prepare("depth"))
    ref = ImageRef.parse(remote.params["image"])
    assert ref.box is None and params["image"] == remote.params["image"]
    data = remote.uploads[ref.digest]
    cut = Image.open(io.BytesIO(data))
    assert cut.size == (20, 30) and cut.getpixel((5, 5)) == (200, 10, 10)
    local, _ = asyncio.run(prepare("yolov8"))
    assert local.params["image"] == crop and not local.uploads


def test_worker_weighs_a_crop_by_its_share_of_the_photo(redis_client: redis.Redis) -> None:
    store = ImageStore(redis_client)
    data = encode_png(_photo())
    parent = store.put(data)
    store.resolve(parent)
    assert store.payload_bytes(parent) == len(data)
    quarter = parent.crop((0, 0, 32, 24))
    assert store.payload_bytes(quarter) == round(len(data) / 4)
    # What really came over the wire: the photo once, then nothing (decoded here already).
    assert store.claim_fetched(quarter) == len(data)
    store.resolve(quarter)
    assert store.claim_fetched(quarter) == 0
