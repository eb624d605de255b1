"""Real worker processes against the real Redis: every function through its queue, every
bad input answered with an error that names the problem, and the worker survives."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dicec.errors import CallFailedError, UnknownFunctionError
from tests.conftest import blpop_wait
from worker_models.calls import prepare_call
from worker_models.catalogue import CATALOGUE
from worker_models.client import SyncCaller, send_requests
from worker_models.imageref import ImageStore
from worker_models.wire import decode_reply

CALLS = {
    "glip": {"object_name": "car"},
    "blip": {"question": "What is the color of the car?"},
    "xvlm": {"object_name": "car", "property": "damaged"},
    "yolov8": {},
    "blip2": {"query": "Answer briefly. What is this?"},
    "depth": {},
    "noop": {"value": {"any": ["json", 1]}},
}


@pytest.fixture()
def caller(pools) -> SyncCaller:  # the pools must run
    return SyncCaller()


@pytest.fixture()
def scene() -> Image.Image:
    image = Image.new("RGB", (96, 72), (90, 90, 95))
    image.paste((200, 30, 30), (20, 30, 60, 55))
    return image


@pytest.mark.parametrize("function", sorted(CATALOGUE))
def test_every_function_answers_through_its_queue(caller, scene, function):
    reply = caller.call_reply(function, image=scene, **CALLS[function])
    assert reply.ok, reply.error
    CATALOGUE[function].result.model_validate(reply.result)
    assert reply.pool in ("vision", "language")


def test_a_crop_travels_as_a_reference_and_is_resolved_by_the_worker(caller, scene):
    from worker_models.imageref import ImageRef, TrackedImage

    store = ImageStore(caller.redis)
    buf = io.BytesIO()
    scene.save(buf, format="PNG")
    ref = store.put(buf.getvalue())
    tracked = TrackedImage.wrap(scene, ref)
    boxes = caller.call("glip", image=tracked.crop((10, 10, 70, 60)), object_name="car")
    assert isinstance(boxes, list)
    for box in boxes:  # boxes are inside the 60x50 crop
        assert box["x"] >= 0 and box["x"] + box["width"] <= 60
    assert ImageRef.parse(f"img:{ref.digest}@10,10,70,60").box == (10, 10, 70, 60)


def _raw_reply(caller: SyncCaller, function: str, params: dict) -> dict:
    request = prepare_call("noop", {}).request(caller.reply_to)
    request = request.model_copy(update={"function": function, "params": params})
    send_requests(function, [request])
    raw = blpop_wait(caller.redis, caller.reply_to)
    assert raw is not None, "no reply: the worker must answer bad input, not drop it"
    reply = decode_reply(raw)
    assert reply.call_id == request.call_id
    return reply.model_dump()


def _stored(caller: SyncCaller, data: bytes) -> str:
    return str(ImageStore(caller.redis).put(data))


def _bomb_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buf, format="PNG")
    return buf.getvalue()


def _truncated_jpeg(scene: Image.Image) -> bytes:
    buf = io.BytesIO()
    scene.save(buf, format="JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def test_bad_inputs_fail_the_call_with_the_problem_named(caller, scene):
    buf = io.BytesIO()
    scene.save(buf, format="PNG")
    good = _stored(caller, buf.getvalue())
    cases = [
        ("blip", {"image": good}, "missing parameter 'question'"),
        (
            "blip",
            {"image": good, "question": "q", "colour": "red"},
            "unexpected parameter 'colour'",
        ),
        ("blip", {"image": good, "question": 7}, "parameter 'question'"),
        ("blip", {"image": _stored(caller, b""), "question": "q"}, "empty"),
        ("blip", {"image": _stored(caller, b"just some text"), "question": "q"}, "not an image"),
        ("blip", {"image": _stored(caller, _truncated_jpeg(scene)), "question": "q"}, "truncated"),
        ("depth", {"image": _stored(caller, _bomb_png())}, "over the limit"),
        ("depth", {"image": "accident_scene.jpg"}, "not an image reference"),
    ]
    for function, params, fragment in cases:
        reply = _raw_reply(caller, function, params)
        assert not reply["ok"], (function, params)
        assert fragment in reply["error"], reply["error"]
    # the worker survived every one of them
    assert caller.call("blip", image=scene, question="what?")["answer"] is not None


def test_unknown_function_and_failed_calls_raise_clearly(caller, scene):
    with pytest.raises(UnknownFunctionError, match="unknown function 'sam'"):
        caller.call("sam", image=scene)
    reply = _raw_reply(caller, "noop", {"value": 1, "image": _stored(caller, b"\x00\x01")})
    assert not reply["ok"] and reply["error_type"] == "BadImageError"
    with pytest.raises(CallFailedError, match="not in the image store"):
        caller.call("noop", value=1, image="img:" + "0" * 64)
