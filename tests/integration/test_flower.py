"""Flower watches the real pools: every pool's workers online, task counts per function
equal to the calls sent, Prometheus metrics. Real Flower, real worker processes, real Redis.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from dicec import keys
from tests.conftest import REDIS_URL, ROOT, TEST_POOLS
from tests.support.flower import Flower, running_flower
from worker_models.calls import prepare_call
from worker_models.catalogue import get_spec
from worker_models.client import send_requests
from worker_models.imageref import ImageStore
from worker_models.pools import PoolsFile, load_pools
from worker_models.wire import decode_reply

CALLS_PER_FUNCTION = 3
REPLY_TIMEOUT_S = 120
# Valid parameters of each function, besides its image.
SAMPLE_PARAMS = {
    "glip": {"object_name": "car"},
    "blip": {"question": "what is in the picture?"},
    "xvlm": {"object_name": "car", "property": "damaged"},
    "yolov8": {},
    "blip2": {"query": "describe the damage"},
    "depth": {},
    "noop": {"value": 1},
}


@pytest.fixture(scope="module")
def test_pools() -> PoolsFile:
    return load_pools(TEST_POOLS)


@pytest.fixture(scope="module")
def flower(pools: object) -> Iterator[Flower]:
    """Flower started after the pools (session fixture), as compose and k8s run it."""
    with running_flower(REDIS_URL, ROOT / "var" / "test-logs" / "flower.log") as running:
        yield running


def workers_of(names: list[str], pool: str) -> list[str]:
    """Celery node names of a pool's processes start with the pool's name."""
    return [n for n in names if n.startswith(f"{pool}-")]


def send_calls(client: redis.Redis, functions: list[str], reply_to: str) -> Counter[str]:
    """CALLS_PER_FUNCTION calls to each function, one Celery message each."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    store = ImageStore(client)
    sent: Counter[str] = Counter()
    for function in functions:
        for i in range(CALLS_PER_FUNCTION):
            kwargs = dict(SAMPLE_PARAMS[function])
            if function == "noop":
                kwargs["value"] = i
            if function != "noop":  # noop's image is optional
                kwargs.update({name: image for name in get_spec(function).image_params()})
            prepared = prepare_call(function, kwargs)
            for data in prepared.uploads.values():
                store.put(data)
            send_requests(function, [prepared.request(reply_to, use_cache=False)])
            sent[function] += 1
    return sent


def collect_replies(client: redis.Redis, reply_to: str, count: int) -> list[object]:
    replies = []
    for _ in range(count):
        item = client.blpop([reply_to], timeout=REPLY_TIMEOUT_S)
        assert item is not None, f"only {len(replies)} of {count} replies arrived"
        replies.append(decode_reply(item[1]))
    return replies


def test_basic_auth_guards_the_api_but_not_metrics(flower: Flower):
    assert flower.get("/api/workers", auth=False).status_code == 401
    assert flower.get("/api/workers").status_code == 200
    assert flower.get("/metrics", auth=False).status_code == 200


def wait_all_pools_online(flower: Flower, pools: PoolsFile) -> list[str]:
    """Live workers once every pool has one (Flower then also listens to task events)."""

    def all_pools_online() -> list[str] | None:
        alive = flower.alive_workers()
        return alive if all(workers_of(alive, p.name) for p in pools.pools) else None

    return flower.wait_until("a live worker of every pool", all_pools_online)


def test_every_pool_is_online_consuming_its_queues(flower, test_pools):
    alive = wait_all_pools_online(flower, test_pools)

    def queues_of_alive_workers() -> dict[str, set[str]] | None:
        # Flower asks the workers (inspect); a busy worker may answer a later refresh.
        info = flower.api("/api/workers", refresh="true")
        queues = {
            w: {q["name"] for q in info[w].get("active_queues") or []} for w in alive if w in info
        }
        return queues if all(queues.get(w) for w in alive) else None

    queues = flower.wait_until("the queues of every live worker", queues_of_alive_workers)
    for pool in test_pools.pools:
        for worker in workers_of(alive, pool.name):
            assert queues[worker] == {keys.queue_for(fn) for fn in pool.functions}, worker


def test_task_counts_per_function_match_the_calls_sent(flower, test_pools, redis_client):
    wait_all_pools_online(flower, test_pools)
    # A small batch of calls to every function; every reply back before looking at Flower.
    reply_to = keys.reply_key(f"flower-test-{uuid.uuid4().hex}")
    sent = send_calls(redis_client, sorted(test_pools.served_functions()), reply_to)
    replies = collect_replies(redis_client, reply_to, sum(sent.values()))
    assert all(r.ok for r in replies), [r.error for r in replies if not r.ok]

    def ours(task: dict) -> bool:
        return reply_to in str(task.get("args"))

    def ours_succeeded() -> Counter[str] | None:
        counts = Counter(
            t["name"] for t in flower.tasks().values() if ours(t) and t.get("state") == "SUCCESS"
        )
        done = all(counts[keys.task_name_for(fn)] >= n for fn, n in sent.items())
        return counts if done else None

    counts = flower.wait_until("the batch's tasks as succeeded", ours_succeeded)
    assert counts == Counter({keys.task_name_for(fn): n for fn, n in sent.items()})

    # Each task ran on a worker of a pool that serves its function.
    for task in filter(ours, flower.tasks().values()):
        function = task["name"].removeprefix("dicec.fn.")
        hosts = [p.name for p in test_pools.pools_serving(function)]
        assert any(task["worker"].startswith(f"{h}-") for h in hosts), task["worker"]

    # Prometheus metrics: succeeded events per task name, every pool's workers online.
    metrics = {f.name: f for f in text_string_to_metric_families(flower.get("/metrics").text)}
    succeeded: Counter[str] = Counter()
    for sample in metrics["flower_events"].samples:
        if sample.name == "flower_events_total" and sample.labels["type"] == "task-succeeded":
            succeeded[sample.labels["task"]] += int(sample.value)
    for function, n in sent.items():
        assert succeeded[keys.task_name_for(function)] >= n
    online = sorted(s.labels["worker"] for s in metrics["flower_worker_online"].samples if s.value)
    assert all(workers_of(online, p.name) for p in test_pools.pools)
