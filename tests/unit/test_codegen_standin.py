"""The stand-in runtime: validation, deterministic schema-shaped results, rounds."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest
from PIL import Image

from dicec.errors import CallValidationError, UnknownFunctionError
from orchestrator.program.standin import StandIn, image_identity
from worker_models.registry import catalogue_functions

FUNCTIONS = catalogue_functions()
SCHEMAS = {f.name: f for f in FUNCTIONS}


def image(width: int = 64, height: int = 48, colour: str = "red") -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def run(coro_fn, seed: int = 0):  # test helper
    async def main():
        standin = StandIn(FUNCTIONS, seed)
        value = await coro_fn(standin)
        return standin, value

    return asyncio.run(main())


def test_results_follow_the_result_schema_and_glip_is_unwrapped() -> None:
    async def program(h: StandIn) -> dict:
        out = {}
        for name, kwargs in [
            ("glip", {"object_name": "car"}),
            ("blip", {"question": "q?"}),
            ("xvlm", {"object_name": "car", "property": "red"}),
            ("yolov8", {}),
            ("blip2", {"query": "q"}),
            ("depth", {}),
        ]:
            out[name] = await h.call(name, image=image(), **kwargs)
        return out

    for seed in range(6):
        _, out = run(program, seed)
        assert isinstance(out["glip"], list)  # the program receives the boxes directly
        jsonschema.validate({"result": out["glip"]}, SCHEMAS["glip"].result_schema)
        for name in ("blip", "xvlm", "yolov8", "blip2", "depth"):
            jsonschema.validate(out[name], SCHEMAS[name].result_schema)


def test_same_question_same_answer_and_seeds_vary_answers() -> None:
    async def ask(h: StandIn) -> list:
        return [await h.call("glip", image=image(), object_name="car") for _ in range(2)]

    answers = [run(ask, seed)[1] for seed in range(8)]
    assert all(first == second for first, second in answers)
    lengths = {len(first) for first, _ in answers}
    assert len(lengths) > 1 and min(lengths) == 0  # branches on "nothing found" get exercised


def test_boxes_lie_inside_the_image() -> None:
    async def ask(h: StandIn) -> list:
        return await h.call("glip", image=image(40, 30), object_name="car")

    for seed in range(10):
        for box in run(ask, seed)[1]:
            assert 0 <= box["x"] <= 20 and 0 <= box["y"] <= 15
            assert 1 <= box["width"] <= 20 and 1 <= box["height"] <= 15


def test_images_are_identified_by_content_and_patches_by_their_image() -> None:
    class Patch:
        def __init__(self, img: Image.Image) -> None:
            self.image = img

    assert image_identity(image()) == image_identity(image())
    assert image_identity(image()) != image_identity(image(colour="blue"))
    assert image_identity(Patch(image())) == image_identity(image())
    assert image_identity("not an image") is None


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "text"),
    [
        ("sam", {"image": image()}, UnknownFunctionError, "unknown function 'sam'"),
        ("glip", {"image": image(), "object": "car"}, CallValidationError, "unknown parameter"),
        ("glip", {"image": image()}, CallValidationError, "missing parameter(s) object_name"),
        ("glip", {"image": "x.jpg", "object_name": "car"}, CallValidationError, "must be an image"),
        ("blip", {"image": image(), "question": 7}, CallValidationError, "parameter question"),
    ],
)
def test_bad_calls_fail_like_hermod(name: str, kwargs: dict, error: type, text: str) -> None:
    async def call(h: StandIn) -> None:
        await h.call(name, **kwargs)

    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        run(call)


def test_rounds_count_waits_not_calls() -> None:
    async def serial(h: StandIn) -> None:
        for q in ("a", "b", "c"):
            await h.call("blip", image=image(), question=q)

    async def gathered(h: StandIn) -> None:
        await asyncio.gather(*[h.call("blip", image=image(), question=q) for q in "abc"])

    async def nested(h: StandIn) -> None:
        items = (await h.call("noop", value=[1, 2]))["value"]

        async def per_item(item: int) -> None:
            await asyncio.gather(h.call("noop", value=item), h.call("noop", value=-item))
            await h.call("noop", value=item * 10)  # depends on the gather before it

        await asyncio.gather(*[per_item(i) for i in items])
        await h.call("noop", value="after")  # saw every result of the gather

    standin, _ = run(serial)
    assert (standin.rounds, len(standin.calls)) == (3, 3)
    standin, _ = run(gathered)
    assert (standin.rounds, len(standin.calls)) == (1, 3)
    standin, _ = run(nested)
    assert [c.round for c in standin.calls] == [1, 2, 2, 2, 2, 3, 3, 4]


def test_rounds_work_for_calls_from_a_worker_thread() -> None:
    """Synchronous ImagePatch programs call from the sandbox's thread, one call at a time."""

    async def threaded(h: StandIn) -> list:
        loop = asyncio.get_running_loop()

        def sync_program() -> list:
            run_sync = asyncio.run_coroutine_threadsafe
            return [run_sync(h.call("noop", value=i), loop).result()["value"] for i in range(3)]

        return await loop.run_in_executor(None, sync_program)

    standin, value = run(threaded)
    assert value == [0, 1, 2]  # noop returns its input
    assert [c.round for c in standin.calls] == [1, 2, 3]
