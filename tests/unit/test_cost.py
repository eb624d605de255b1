"""Cost accounting on hand-made traces whose answer is known."""

from __future__ import annotations

import pytest

from dicec.records import BatchMeta, CallTrace, TaskRecord
from orchestrator.cost.accounting import batch_cost, compare
from orchestrator.cost.timeline import busy_by_worker, busy_workers_binned, union

T0 = 1_700_000_000.0


def meta(**kw: object) -> BatchMeta:
    base = dict(
        batch_id="b",
        program_name="p.py",
        program_sha256="0",
        program_source="",
        images_dir="/x",
        images=["a.png", "a.png"],
        tasks=2,
        seed=0,
        pools_file="test",
        created_at=T0,
        pool_prices={"a": 3.6, "b": 7.2},
        pool_replicas={"a": 1, "b": 2},
    )
    base.update(kw)
    return BatchMeta.model_validate(base)


def task(index: int, start: float, end: float) -> TaskRecord:
    return TaskRecord(
        batch_id="b",
        index=index,
        image="a.png",
        status="ok",
        started_at=T0 + start,
        finished_at=T0 + end,
    )


def trace(
    call_id: str,
    fn: str,
    pool: str | None,
    worker: str | None,
    start: float,
    end: float,
    **kw: object,
) -> CallTrace:
    return CallTrace(
        call_id=call_id,
        batch_id="b",
        task_index=0,
        function=fn,
        pool=pool,
        worker=worker,
        queued_at=T0 + start - 1.0,
        started_at=T0 + start,
        finished_at=T0 + end,
        replied_at=T0 + end + 0.5,
        **kw,
    )


def hand_made() -> tuple[BatchMeta, list[TaskRecord], list[CallTrace]]:
    traces = [
        # pool a, one worker: two overlapping passes -> busy 10..30 = 20 s
        trace("c1", "glip", "a", "a1", 10, 20),
        trace("c2", "glip", "a", "a1", 15, 30),
        # pool b: worker b1 busy 0..50, worker b2 busy 60..70 -> 60 s
        trace("c3", "blip", "b", "b1", 0, 50),
        trace("c4", "blip", "b", "b2", 60, 70),
        # a redelivered call stored twice: counted once
        trace("c4", "blip", "b", "b2", 60, 70),
        # a cache hit: no worker time
        CallTrace(
            call_id="c5",
            task_index=1,
            function="blip",
            queued_at=T0 + 5,
            cached=True,
            replied_at=T0 + 6,
        ),
    ]
    return meta(), [task(0, 0, 60), task(1, 20, 100)], traces


def test_pool_cost_is_price_times_replicas_times_makespan() -> None:
    cost = batch_cost(*hand_made())
    assert cost.makespan_s == pytest.approx(100.0)
    pools = {p.pool: p for p in cost.pools}
    a, b = pools["a"], pools["b"]
    assert a.cost_usd == pytest.approx(3.6 * 1 * 100 / 3600)  # 0.1
    assert b.cost_usd == pytest.approx(7.2 * 2 * 100 / 3600)  # 0.4
    assert cost.cost_usd == pytest.approx(0.5)
    assert cost.cost_per_task_usd == pytest.approx(0.25)


def test_busy_time_is_the_union_per_worker_and_utilisation_follows() -> None:
    pools = {p.pool: p for p in batch_cost(*hand_made()).pools}
    assert pools["a"].busy_s == pytest.approx(20.0)
    assert pools["a"].utilisation == pytest.approx(0.2)
    assert pools["a"].idle_cost_usd == pytest.approx(0.1 * 0.8)
    assert pools["b"].busy_s == pytest.approx(60.0)
    assert pools["b"].provisioned_s == pytest.approx(200.0)
    assert pools["b"].utilisation == pytest.approx(0.3)
    assert pools["b"].calls == 2  # c4 once, the cache hit not at all


def test_function_cost_splits_pool_cost_by_busy_share() -> None:
    cost = batch_cost(*hand_made())
    fns = {f.function: f for f in cost.functions}
    assert fns["glip"].cost_usd == pytest.approx(0.1)  # all of pool a
    assert fns["blip"].cost_usd == pytest.approx(0.4)  # all of pool b
    assert fns["blip"].calls == 3 and fns["blip"].computed == 2
    assert cost.unattributed_usd == pytest.approx(0.0)


def test_a_batched_pass_is_shared_between_its_calls() -> None:
    m = meta(pool_prices={"a": 3.6}, pool_replicas={"a": 1})
    traces = [
        trace("x", "blip", "a", "a1", 0, 10),
        trace("y", "blip", "a", "a1", 0, 10),
        trace("z", "xvlm", "a", "a1", 10, 20),
    ]
    cost = batch_cost(m, [task(0, 0, 40)], traces)
    fns = {f.function: f for f in cost.functions}
    assert fns["blip"].busy_s == pytest.approx(10.0)  # 2 calls x 5 s, not 2 x 10 s
    assert fns["xvlm"].busy_s == pytest.approx(10.0)
    pool_cost = 3.6 * 40 / 3600
    assert fns["blip"].cost_usd == pytest.approx(pool_cost / 2)
    assert cost.pools[0].utilisation == pytest.approx(0.5)


def test_idle_pool_cost_is_reported_unattributed() -> None:
    m = meta(pool_prices={"a": 3.6, "idle": 1.8}, pool_replicas={"a": 1, "idle": 1})
    cost = batch_cost(m, [task(0, 0, 100)], [trace("x", "glip", "a", "a1", 0, 10)])
    assert cost.unattributed_usd == pytest.approx(1.8 * 100 / 3600)
    idle = next(p for p in cost.pools if p.pool == "idle")
    assert idle.utilisation == 0.0 and idle.idle_cost_usd == pytest.approx(idle.cost_usd)


def test_baseline_mode_bills_the_baseline_nodes() -> None:
    m = meta(mode="baseline", pool_prices={"baseline": 2.2}, pool_replicas={"baseline": 2})
    traces = [trace("x", "glip", "baseline", "node-1", 0, 30)]
    cost = batch_cost(m, [task(0, 0, 60), task(1, 0, 120)], traces)
    (pool,) = cost.pools
    assert pool.replicas == 2
    assert cost.cost_usd == pytest.approx(2.2 * 2 * 120 / 3600)


def test_an_unpriced_pool_costs_nothing_and_says_so() -> None:
    m = meta(pool_prices={}, pool_replicas={})
    cost = batch_cost(m, [task(0, 0, 10)], [trace("x", "glip", "ghost", "g1", 0, 5)])
    (pool,) = cost.pools
    assert pool.pool == "ghost" and not pool.priced and pool.cost_usd == 0.0
    assert batch_cost(m, [task(0, 0, 10)], [], prices={"ghost": 1.0}).cost_usd == 0.0


def test_compare_gives_the_reduction() -> None:
    base = batch_cost(meta(pool_prices={"a": 7.2}), [task(0, 0, 100)], [])
    cand = batch_cost(meta(pool_prices={"a": 3.6}), [task(0, 0, 50)], [])
    cmp = compare(base, cand)
    assert cmp.cost_reduction == pytest.approx(1 - 0.05 / 0.2)
    assert cmp.time_reduction == pytest.approx(0.5)


def test_union_and_busy_series() -> None:
    assert union([(0, 2), (1, 3), (5, 6), (6, 7), (9, 9)]) == [(0, 3), (5, 7)]
    _, _, traces = hand_made()
    binned = busy_workers_binned(busy_by_worker(traces), T0, T0 + 100, 10)
    # pool b: b1 busy 0..50, b2 busy 60..70 -> 1 worker in bins 0-4 and 6, none else
    assert [v for _, v in binned["b"]] == pytest.approx([1, 1, 1, 1, 1, 0, 1, 0, 0, 0])
    # pool a: busy 10..30
    assert [v for _, v in binned["a"]] == pytest.approx([0, 1, 1, 0, 0, 0, 0, 0, 0, 0])
