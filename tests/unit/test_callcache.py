"""The call cache on the worker side, with real models and the real Redis: a cached result
is served only for the same function, checkpoint and parameters, and identical calls in
one chunk are computed once."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from dicec import keys
from dicec.settings import Settings
from worker_models.backends.noop import NoopBackend
from worker_models.callcache import CallCache, cache_digest
from worker_models.catalogue import Params, Result, get_spec
from worker_models.checkpoints import build_small_checkpoints
from worker_models.imageref import ImageStore
from worker_models.loading import checkpoint_id
from worker_models.pools import Pool
from worker_models.service import FunctionService, build_service_for_pool
from worker_models.wire import CallReply, CallRequest

OTHER_SEED = 5  # the second checkpoint: same architecture, other weights
XVLM_CALL = {"object_name": "car", "property": "damaged"}


class CountingNoop(NoopBackend):
    """The real noop backend, counting the calls it computes."""

    def __init__(self) -> None:
        super().__init__()
        self.computed: list[Params] = []

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        self.computed.extend(params)
        return super().run_batch(params, images)


@pytest.fixture()
def cache_keys(redis_client: redis.Redis) -> Iterator[list[str]]:
    """Keys a test writes (cache entries, images); deleted afterwards."""
    written: list[str] = []
    yield written
    if written:
        redis_client.delete(*written)


def request(function: str, params: dict, use_cache: bool = True) -> CallRequest:
    return CallRequest(
        call_id=uuid.uuid4().hex,
        function=function,
        params=params,
        reply_to=keys.reply_key(f"test-callcache-{os.getpid()}"),
        sent_at=0.0,
        use_cache=use_cache,
    )


def serve_one(service: FunctionService, function: str, params: dict) -> CallReply:
    (reply,) = service.serve_chunk(function, [request(function, params)], worker="test")
    assert reply.ok, reply.error
    return reply


def noop_service(
    r: redis.Redis, checkpoint: str = "noop-a"
) -> tuple[FunctionService, CountingNoop]:
    backend = CountingNoop()
    pool = Pool(name="cachetest", gpu_type="cpu", functions=["noop"])
    service = FunctionService(
        pool, "cpu", {"noop": backend}, ImageStore(r), r, CallCache(r), {"noop": checkpoint}
    )
    return service, backend


def unique_image(r: redis.Redis, written: list[str]) -> str:
    """A crop-sized image no other run has stored (so no earlier cache entry exists)."""
    colour = tuple(uuid.uuid4().bytes[:3])
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buf, format="PNG")
    ref = ImageStore(r).put(buf.getvalue())
    written.append(keys.image_key(ref.digest))
    return str(ref)


def test_the_digest_follows_function_checkpoint_and_every_parameter() -> None:
    params = {"image": "img:ab12@1,2,30,40", "question": "What colour?"}
    digest = cache_digest("blip", "ckpt#1", params)
    assert digest == cache_digest("blip", "ckpt#1", dict(reversed(params.items())))
    others = [
        cache_digest("blip2", "ckpt#1", params),
        cache_digest("blip", "ckpt#2", params),
        cache_digest("blip", "ckpt#1", {**params, "question": "What colour? "}),
        cache_digest("blip", "ckpt#1", {**params, "image": "img:ab12@1,2,30,41"}),
        cache_digest("blip", "ckpt#1", {**params, "image": "img:ab12"}),
        cache_digest("blip", "ckpt#1", {"image": params["image"]}),
    ]
    assert digest not in others
    assert len(set(others)) == len(others)


def test_a_result_cached_for_one_checkpoint_is_never_served_for_another(
    redis_client: redis.Redis, small_settings: Settings, tmp_path: Path, cache_keys: list[str]
) -> None:
    build_small_checkpoints(tmp_path, ["xvlm"], seed=OTHER_SEED)
    other_settings = small_settings.model_copy(update={"checkpoint_dir": tmp_path})
    pool = Pool(name="cachetest", gpu_type="cpu", functions=["xvlm"])
    first = build_service_for_pool(pool, small_settings.model_copy(update={"cache_enabled": True}))
    second = build_service_for_pool(pool, other_settings.model_copy(update={"cache_enabled": True}))
    assert first.checkpoint_ids["xvlm"] != second.checkpoint_ids["xvlm"]
    params = {"image": unique_image(redis_client, cache_keys), **XVLM_CALL}
    for settings in (small_settings, other_settings):
        cache_keys.append(
            keys.cache_key(cache_digest("xvlm", checkpoint_id("xvlm", settings), params))
        )

    computed = serve_one(first, "xvlm", params)
    assert not computed.cached
    again = serve_one(first, "xvlm", params)
    assert again.cached and again.result == computed.result

    # The other weights compute the call themselves, and their answer is their own.
    theirs = serve_one(second, "xvlm", params)
    assert not theirs.cached
    model = get_spec("xvlm").params.model_validate(params)
    image = second.store.resolve(params["image"])
    direct = second.backends["xvlm"].run_batch([model], [image])[0]
    assert theirs.result == direct.model_dump(by_alias=True)
    assert theirs.result != computed.result  # other weights, another score


def test_a_result_is_never_served_for_a_different_parameter(
    redis_client: redis.Redis, cache_keys: list[str]
) -> None:
    service, backend = noop_service(redis_client)
    tag = uuid.uuid4().hex
    variants = [
        {"value": tag},
        {"value": tag + "x"},
        {"value": [tag]},
        {"value": tag, "sleep_ms": 1.0},
        {"value": tag, "image": unique_image(redis_client, cache_keys)},
    ]
    cache_keys.extend(keys.cache_key(cache_digest("noop", "noop-a", v)) for v in variants)
    for params in variants:
        reply = serve_one(service, "noop", params)
        assert not reply.cached, f"{params} was served another call's result"
        assert reply.result == {"value": params["value"]}
    assert len(backend.computed) == len(variants)
    # The same parameters again: all from the cache, nothing computed.
    assert all(serve_one(service, "noop", p).cached for p in variants)
    assert len(backend.computed) == len(variants)


def test_identical_calls_in_one_chunk_are_computed_once(
    redis_client: redis.Redis, cache_keys: list[str]
) -> None:
    service, backend = noop_service(redis_client, checkpoint=f"noop-{uuid.uuid4().hex}")
    tag = uuid.uuid4().hex
    same, other = {"value": tag}, {"value": tag + "-other"}
    cache_keys.extend(
        keys.cache_key(cache_digest("noop", service.checkpoint_ids["noop"], p))
        for p in (same, other)
    )
    chunk = [request("noop", same), request("noop", other), request("noop", same)]
    chunk.append(request("noop", same, use_cache=False))  # cache off: always computed
    replies = service.serve_chunk("noop", chunk, worker="test")

    assert [r.call_id for r in replies] == [r.call_id for r in chunk]
    assert all(r.ok for r in replies)
    assert [r.result for r in replies] == [{"value": tag}, {"value": tag + "-other"}] + [
        {"value": tag}
    ] * 2
    assert [r.cached for r in replies] == [False, False, True, False]
    assert len(backend.computed) == 3
