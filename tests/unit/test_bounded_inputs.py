"""Bounded pixel work on the workers (issue 13 item 4, issue 17's degenerate box): crops are
clamped to their image with a minimum side, model inputs are bounded before a processor
sees them, and every image error is its own call's error, never the message's."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from PIL import Image

from dicec import keys
from dicec.errors import BadImageError
from dicec.settings import Settings
from worker_models.backends.common import (
    MAX_MODEL_INPUT_ASPECT,
    MAX_MODEL_INPUT_SIDE_PX,
    bounded_input,
    model_inputs,
)
from worker_models.backends.noop import MAX_BATCH_SLEEP_MS, NoopBackend
from worker_models.catalogue import get_spec
from worker_models.imageref import (
    MIN_CROP_SIDE_PX,
    ImageRef,
    ImageStore,
    TrackedImage,
    clamp_box,
)
from worker_models.loading import load_backend
from worker_models.pools import Pool
from worker_models.service import FunctionService
from worker_models.wire import CallRequest

SCENE_SIZE = (320, 240)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def stored(redis_client: redis.Redis) -> Iterator[dict[str, str]]:
    """A normal scene and a decompression bomb in the real image store; removed after."""
    store = ImageStore(redis_client)
    bomb = Image.new("1", (12_000, 12_000))
    refs = {
        "scene": store.put(png(Image.new("RGB", SCENE_SIZE, "teal"))),
        "bomb": store.put(png(bomb)),
    }
    yield {name: str(ref) for name, ref in refs.items()}
    redis_client.delete(*(keys.image_key(ref.digest) for ref in refs.values()))


def test_boxes_are_clamped_to_the_image_with_a_minimum_side() -> None:
    assert clamp_box((-50, -50, 13_000, 13_000), (320, 240)) == (0, 0, 320, 240)
    x0, y0, x1, y1 = clamp_box((100, 10, 101, 200), (320, 240))  # a 1-px detector box
    assert (x1 - x0, y1 - y0) == (MIN_CROP_SIDE_PX, 190) and x0 <= 100 < x1
    assert clamp_box((319, 239, 320, 240), (320, 240)) == (316, 236, 320, 240)  # kept inside
    assert clamp_box((0, 0, 0, 0), (2, 2)) == (0, 0, 2, 2)  # image smaller than the minimum
    for bad, fragment in [
        ((5, 5, 1, 9), "before"),
        ((400, 0, 500, 10), "outside"),
        ((0, 0, float("nan"), 4), "finite"),
    ]:
        with pytest.raises(BadImageError, match=fragment):
            clamp_box(bad, (320, 240))


def test_a_tracked_crop_and_its_reference_agree_after_clamping() -> None:
    image = TrackedImage.wrap(Image.new("RGB", SCENE_SIZE, "red"), ImageRef("b" * 64))
    huge = image.crop((0, 0, 9000, 9000))
    assert huge.size == SCENE_SIZE and huge.dicec_ref.box == (0, 0, *SCENE_SIZE)
    thin = image.crop((10, 20, 11, 200))
    assert thin.size == (MIN_CROP_SIDE_PX, 180)
    assert thin.dicec_ref.box == (8, 20, 8 + MIN_CROP_SIDE_PX, 200)


def test_model_inputs_are_bounded_in_side_and_aspect() -> None:
    big = bounded_input(Image.new("RGB", (4000, 3000)), pad_aspect=False)
    assert big.size == (MAX_MODEL_INPUT_SIDE_PX, 768)
    thin = bounded_input(Image.new("RGB", (1, 240), "black"), pad_aspect=True)
    assert thin.size == (60, 240) and max(thin.size) / min(thin.size) <= MAX_MODEL_INPUT_ASPECT
    assert thin.getpixel((29, 100)) == (0, 0, 0) and thin.getpixel((0, 100)) == (255, 255, 255)
    normal = Image.new("RGB", (120, 80))
    assert bounded_input(normal, pad_aspect=True) is normal


def _resized_pixels(processor: object, image: Image.Image) -> int:
    """How many pixels the processor's resize produces (before its centre crop)."""
    out = processor.image_processor(  # type: ignore[attr-defined]
        images=[image], do_center_crop=False, return_tensors="pt"
    )["pixel_values"]
    return int(out.shape[-1] * out.shape[-2])


def test_a_one_pixel_crop_reaches_the_processor_bounded(small_settings: Settings) -> None:
    backend = load_backend("xvlm", small_settings)
    scene = TrackedImage.wrap(Image.new("RGB", (640, 480), "grey"), ImageRef("c" * 64))
    thin = scene.crop((300, 0, 301, 480))  # what a random detector returned: 1 px wide
    normal = scene.crop((200, 100, 400, 300))
    (bounded,) = model_inputs("xvlm", [thin], backend.processor)  # type: ignore[attr-defined]
    unbounded_px = _resized_pixels(backend.processor, thin)  # type: ignore[attr-defined]
    bounded_px = _resized_pixels(backend.processor, bounded)  # type: ignore[attr-defined]
    normal_px = _resized_pixels(backend.processor, normal)  # type: ignore[attr-defined]
    assert unbounded_px > 20 * normal_px  # what CLIP's processor did before
    assert bounded_px <= MAX_MODEL_INPUT_ASPECT * normal_px
    spec = get_spec("xvlm")
    call = spec.params.model_validate(
        {"image": str(thin.dicec_ref), "object_name": "car", "property": "red"}
    )
    (result,) = backend.run_batch([call], [thin])  # type: ignore[attr-defined]
    assert 0.0 <= result.score <= 1.0  # type: ignore[attr-defined]


def _request(params: dict) -> CallRequest:
    return CallRequest(
        call_id=uuid.uuid4().hex,
        function="noop",
        params=params,
        reply_to=keys.reply_key(f"test-bounded-{os.getpid()}"),
        sent_at=0.0,
        use_cache=False,
    )


def test_a_bomb_in_a_message_of_several_calls_fails_only_its_own_call(
    redis_client: redis.Redis, stored: dict[str, str]
) -> None:
    pool = Pool(name="boundedtest", gpu_type="cpu", functions=["noop"])
    service = FunctionService(
        pool, "cpu", {"noop": NoopBackend()}, ImageStore(redis_client), redis_client
    )
    digest = ImageRef.parse(stored["scene"]).digest
    chunk = [
        _request({"value": "plain", "image": stored["scene"]}),
        _request({"value": "bomb", "image": stored["bomb"]}),
        _request({"value": "huge box", "image": f"img:{digest}@0,0,13000,13000"}),
        _request({"value": "thin box", "image": f"img:{digest}@5,5,6,200"}),
        _request({"value": "outside", "image": f"img:{digest}@900,900,950,950"}),
        _request({"value": "after"}),
    ]
    replies = service.serve_chunk("noop", chunk, worker="test")
    outcome = {req.params["value"]: reply for req, reply in zip(chunk, replies, strict=True)}
    assert [v for v, r in outcome.items() if r.ok] == ["plain", "huge box", "thin box", "after"]
    assert "over the limit" in (outcome["bomb"].error or "")
    assert outcome["bomb"].error_type == outcome["outside"].error_type == "BadImageError"
    assert "outside" in (outcome["outside"].error or "")


def test_noop_sleep_is_capped() -> None:
    spec = get_spec("noop")
    assert spec.params.model_json_schema()["properties"]["sleep_ms"]["maximum"] > MAX_BATCH_SLEEP_MS
    backend = NoopBackend(max_sleep_ms=50.0)
    flood = [spec.params.model_validate({"value": i, "sleep_ms": 60_000.0}) for i in range(4)]
    started = time.monotonic()
    assert [r.value for r in backend.run_batch(flood, [None] * 4)] == [0, 1, 2, 3]
    assert time.monotonic() - started < 1.0
