"""The model backends on the small checkpoints: real models, real forward passes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from dicec.errors import BadImageError
from dicec.settings import Settings
from worker_models.backends.base import Backend
from worker_models.backends.common import DetectionLimits, distinct_images
from worker_models.catalogue import MODEL_FUNCTIONS, Params, get_spec
from worker_models.loading import load_backend

# Varied on purpose: question lengths (padding), prompts, image sizes and modes.
CALLS: dict[str, list[dict[str, Any]]] = {
    "glip": [{"object_name": n} for n in ("car", "", "damaged car", "plastic bottle")],
    "blip": [
        {"question": q}
        for q in (
            "What is the color of the car?",
            "",
            "What is the model of the car in the middle of the road near the sea?",
            "Is it red",
        )
    ],
    "xvlm": [
        {"object_name": o, "property": p}
        for o, p in (("car", "damaged"), ("car", "overturned"), ("muffin", "red"), ("bus", "old"))
    ],
    "yolov8": [{}] * 4,
    "blip2": [
        {"query": q}
        for q in (
            "Answer briefly. Is there litter on the beach?",
            "What is it?",
            "",
            "Describe the scene in detail, object by object, left to right please.",
        )
    ],
    "depth": [{}] * 4,
}
IMAGE_SEEDS = (1, 2)


def sample_images(seed: int, n: int = 4) -> list[Image.Image | None]:
    rng = np.random.default_rng(seed)
    images: list[Image.Image | None] = []
    for i in range(n):
        h, w = (int(x) for x in rng.integers(20, 160, size=2))
        image = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        images.append(image.convert("L") if i == 3 else image)  # a grey crop too
    return images


def sample_params(function: str) -> list[Params]:
    spec = get_spec(function)
    return [spec.params.model_validate({"image": "ref", **c}) for c in CALLS[function]]


@pytest.fixture(scope="module")
def backends(small_settings: Settings) -> dict[str, Backend]:
    return {fn: load_backend(fn, small_settings) for fn in (*MODEL_FUNCTIONS, "noop")}


@pytest.mark.parametrize("function", MODEL_FUNCTIONS)
def test_results_validate_against_the_result_model(
    backends: dict[str, Backend], function: str
) -> None:
    spec = get_spec(function)
    backend = backends[function]
    assert backend.function == function
    results = backend.run_batch(sample_params(function), sample_images(IMAGE_SEEDS[0]))
    assert len(results) == len(CALLS[function])
    for result in results:
        assert type(result) is spec.result
        spec.result.model_validate(result.model_dump(by_alias=True))


@pytest.mark.parametrize("seed", IMAGE_SEEDS)
@pytest.mark.parametrize("function", MODEL_FUNCTIONS)
def test_a_call_gives_the_same_result_alone_or_in_a_batch(
    backends: dict[str, Backend], function: str, seed: int
) -> None:
    backend = backends[function]
    params, images = sample_params(function), sample_images(seed)
    batched = backend.run_batch(params, images)
    alone = [backend.run_batch([p], [i])[0] for p, i in zip(params, images, strict=True)]
    assert [r.model_dump() for r in batched] == [r.model_dump() for r in alone]
    # and a call does not depend on its neighbours' order either
    reversed_batch = backend.run_batch(params[::-1], images[::-1])[::-1]
    assert [r.model_dump() for r in reversed_batch] == [r.model_dump() for r in alone]


def test_answers_depend_on_the_inputs(backends: dict[str, Backend]) -> None:
    """Random weights, but not a constant function: the batching tests can bite."""
    answers = backends["blip"].run_batch(sample_params("blip"), sample_images(IMAGE_SEEDS[0]))
    assert len({a.model_dump()["answer"] for a in answers}) > 1


def _boxes(function: str, result: Any) -> list[dict[str, Any]]:
    data = result.model_dump(by_alias=True)
    return data["result"] if function == "glip" else data["objects"]


@pytest.mark.parametrize("function", ["glip", "yolov8"])
@pytest.mark.parametrize(("top_k", "threshold"), [(3, 0.0), (5, 0.5), (0, 0.0)])
def test_detections_are_capped_sorted_and_inside_the_image(
    small_settings: Settings, function: str, top_k: int, threshold: float
) -> None:
    settings = small_settings.model_copy(
        update={"detect_top_k": top_k, "detect_score_threshold": threshold}
    )
    backend = load_backend(function, settings)
    images = sample_images(IMAGE_SEEDS[1])
    results = backend.run_batch(sample_params(function), images)
    for result, image in zip(results, images, strict=True):
        assert image is not None
        boxes = _boxes(function, result)
        assert len(boxes) <= top_k
        scores = [b["score"] for b in boxes]
        assert scores == sorted(scores, reverse=True)
        assert all(s >= threshold for s in scores)
        w, h = image.size
        for b in boxes:
            assert all(isinstance(b[k], int) for k in ("x", "y", "width", "height"))
            assert b["width"] >= 1 and b["height"] >= 1
            assert b["x"] >= 0 and b["x"] + b["width"] <= w
            assert b["y"] >= 0 and b["y"] + b["height"] <= h
    if top_k and threshold == 0.0:  # every patch/query predicts a box: the cap binds
        assert all(len(_boxes(function, r)) == top_k for r in results)


def test_detection_limits_break_ties_by_position() -> None:
    from worker_models.backends.common import PixelBox

    boxes = [PixelBox(5, 0, 1, 1, 0.9, "a"), PixelBox(1, 0, 1, 1, 0.9, "a")]
    assert [b.x for b in DetectionLimits(5, 0.0).select(boxes)] == [1, 5]


@pytest.mark.parametrize(
    ("top_k", "threshold"), [(5, 0.0), (3, 0.5), (1, 0.0), (0, 0.0), (50, 0.9)]
)
def test_only_the_candidates_of_a_detection_are_built(top_k: int, threshold: float) -> None:
    """The backends build boxes only for `candidates`; the selection is the same as from
    every box, ties on the cut included (scores drawn from a few values, as a saturated
    random detector gives them)."""
    from worker_models.backends.common import PixelBox

    rng = np.random.default_rng(7)
    limits = DetectionLimits(top_k, threshold)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        scores = [float(s) for s in rng.choice([0.2, 0.5, 0.9, 1.0], size=n)]
        boxes = [
            PixelBox(int(x), int(y), 1, 1, s, "car")
            for (x, y), s in zip(rng.integers(0, 9, size=(n, 2)), scores, strict=True)
        ]
        every = limits.select(boxes)
        built = limits.select([boxes[i] for i in limits.candidates(scores)])
        assert built == every


def test_a_one_pixel_crop_is_served(backends: dict[str, Backend]) -> None:
    tiny = Image.new("RGB", (1, 1), (200, 30, 30))
    for function in MODEL_FUNCTIONS:
        result = backends[function].run_batch(sample_params(function)[:1], [tiny])[0]
        get_spec(function).result.model_validate(result.model_dump(by_alias=True))
        if function in ("glip", "yolov8"):
            assert all(b["width"] == 1 and b["height"] == 1 for b in _boxes(function, result))


def test_a_model_call_without_an_image_is_a_bad_call(backends: dict[str, Backend]) -> None:
    with pytest.raises(BadImageError, match="blip: call 0 of the batch has no image"):
        backends["blip"].run_batch(sample_params("blip")[:1], [None])


def test_depth_is_in_metres_within_bounds(backends: dict[str, Backend]) -> None:
    from worker_models.backends.depth import MAX_DEPTH_M, MIN_DEPTH_M

    for r in backends["depth"].run_batch(sample_params("depth"), sample_images(IMAGE_SEEDS[0])):
        d = r.model_dump()
        assert MIN_DEPTH_M <= d["min_depth"] <= d["depth"] <= d["max_depth"] <= MAX_DEPTH_M


def test_depth_scale_is_the_calibration_it_is_given(small_settings: Settings) -> None:
    """DICEC_DEPTH_DISPARITY_AT_1M scales a relative model's metres (and its cache id)."""
    from worker_models.backends.depth import MAX_DEPTH_M
    from worker_models.loading import checkpoint_id

    images, params = sample_images(IMAGE_SEEDS[0]), sample_params("depth")
    plain = small_settings
    tenth = small_settings.model_copy(update={"depth_disparity_at_1m": 0.1})
    far = load_backend("depth", plain).run_batch(params, images)
    near = load_backend("depth", tenth).run_batch(params, images)
    for f, n in zip(far, near, strict=True):
        if f.depth < MAX_DEPTH_M:  # the clip at MAX_DEPTH_M moves with the scale
            assert n.depth == pytest.approx(f.depth / 10, rel=1e-3)
    assert checkpoint_id("depth", plain) != checkpoint_id("depth", tenth)


def test_xvlm_score_is_a_probability_that_decides_the_result(
    backends: dict[str, Backend],
) -> None:
    for r in backends["xvlm"].run_batch(sample_params("xvlm"), sample_images(IMAGE_SEEDS[0])):
        assert 0.0 <= r.score <= 1.0
        assert r.result == (r.score > 0.5)


def test_xvlm_score_is_clips_own_probability(backends: dict[str, Backend]) -> None:
    """The backend computes CLIP's logits in parts (each crop encoded once, captions kept):
    each score must be the softmax of CLIPModel's own forward over the call's captions."""
    import torch

    from worker_models.backends.common import model_inputs
    from worker_models.backends.xvlm import captions

    backend = backends["xvlm"]
    model, processor = backend.model, backend.processor
    params, images = sample_params("xvlm"), sample_images(IMAGE_SEEDS[1])
    got = backend.run_batch(params, images)
    for call, image, result in zip(params, images, got, strict=True):
        inputs = processor(text=captions(call), return_tensors="pt", padding=True)
        inputs["pixel_values"] = backend.pixels(model_inputs("xvlm", [image], processor))
        with torch.inference_mode():
            logits = model(**inputs).logits_per_image[0]
        assert result.score == pytest.approx(logits.softmax(-1)[0].item(), abs=1e-4)


def test_noop_echoes_values_without_a_model(backends: dict[str, Backend]) -> None:
    spec = get_spec("noop")
    params = [spec.params.model_validate({"value": v, "sleep_ms": 1.0}) for v in (1, "x", None)]
    results = backends["noop"].run_batch(params, [None] * 3)
    assert [r.model_dump() for r in results] == [{"value": 1}, {"value": "x"}, {"value": None}]


@pytest.mark.parametrize("function", ["blip", "xvlm", "glip"])
def test_calls_on_one_image_object_give_what_they_give_on_copies(
    backends: dict[str, Backend], function: str
) -> None:
    """The worker hands the calls on one crop the same object; a backend preprocesses (and
    BLIP encodes) it once. The results must be those of separate copies."""
    a, b = sample_images(IMAGE_SEEDS[0])[:2]
    assert a is not None and b is not None
    params = sample_params(function)
    shared = backends[function].run_batch(params, [a, a, b, a])
    copies = backends[function].run_batch(params, [a.copy(), a.copy(), b, a.copy()])
    assert [r.model_dump() for r in shared] == [r.model_dump() for r in copies]


def test_distinct_images_maps_each_call_to_its_image() -> None:
    a, b = Image.new("RGB", (4, 4)), Image.new("RGB", (4, 4))  # equal pixels, two objects
    distinct, which = distinct_images([a, b, a, None, b])
    assert distinct[0] is a and distinct[1] is b and distinct[2] is None
    assert which.tolist() == [0, 1, 0, 2, 1]
