"""The simulator on hand-made scenarios whose answer is known exactly."""

from __future__ import annotations

from typing import Any

import pytest

from dicec.records import CallTrace
from orchestrator.planning.callmix import (
    CallMix,
    GraphCall,
    TaskGraph,
    call_mix_from_traces,
    claims_call_mix,
    claims_rounds,
    from_rounds,
)
from orchestrator.planning.profiles import Profile
from orchestrator.planning.simulator import BaselinePlan, SimConfig, simulate
from worker_models.pools import PoolsFile

PRICE = 3.6  # USD/h: one second costs 0.001 USD


def profile(slots: float = 1.0, overhead: float = 0.0) -> Profile:
    return Profile.model_validate(
        {
            "dispatch_overhead_s": overhead,
            "hardware": {
                "T": {
                    "price_per_hour": PRICE,
                    "parallel_slots": slots,
                    "functions": {
                        "glip": {"points": [{"batch_size": 1, "service_s": 1.0}]},
                        "xvlm": {"points": [{"batch_size": 1, "service_s": 0.5}]},
                        # 1 call 1 s, 4 calls 2.5 s: b=2 interpolates to 1.5 s
                        "blip": {
                            "points": [
                                {"batch_size": 1, "service_s": 1.0},
                                {"batch_size": 4, "service_s": 2.5},
                            ]
                        },
                    },
                }
            },
        }
    )


def pools(*specs: dict[str, Any]) -> PoolsFile:
    return PoolsFile.model_validate(
        {"gpu_types": {"T": {"price_per_hour": PRICE}}, "pools": list(specs)}
    )


def pool(name: str = "p", functions: tuple[str, ...] = ("glip",), **kw: Any) -> dict[str, Any]:
    return {"name": name, "gpu_type": "T", "functions": list(functions), **kw}


def tasks(n: int, *rounds: list[str]) -> CallMix:
    return from_rounds([list(rounds)] * n)


def test_one_server_three_calls_of_one_second() -> None:
    result = simulate(tasks(3, ["glip"]), profile(), pools(pool()))
    assert result.makespan_s == pytest.approx(3.0)
    (p,) = result.pools
    assert p.busy_s == pytest.approx(3.0) and p.utilisation == pytest.approx(1.0)
    assert result.cost_usd == pytest.approx(0.003)
    assert result.cost_per_task_usd == pytest.approx(0.001)


def test_two_replicas_share_the_work() -> None:
    result = simulate(tasks(3, ["glip"]), profile(), pools(pool(replicas=2)))
    assert result.makespan_s == pytest.approx(2.0)
    (p,) = result.pools
    assert p.provisioned_s == pytest.approx(4.0)
    assert p.utilisation == pytest.approx(0.75)
    assert result.cost_usd == pytest.approx(0.004)


def test_concurrency_on_one_device_shares_it_unless_it_has_slots() -> None:
    mix = tasks(2, ["glip"])
    shared = simulate(mix, profile(slots=1.0), pools(pool(concurrency=2)))
    assert shared.makespan_s == pytest.approx(2.0)  # two calls at half speed
    parallel = simulate(mix, profile(slots=2.0), pools(pool(concurrency=2)))
    assert parallel.makespan_s == pytest.approx(1.0)


def test_batching_by_max_batch_size() -> None:
    mix = tasks(1, ["blip"] * 4)
    batched = pools(pool(functions=("blip",), batching={"blip": {"max_batch_size": 4}}))
    assert simulate(mix, profile(), batched).makespan_s == pytest.approx(2.5)
    pairs = pools(pool(functions=("blip",), batching={"blip": {"max_batch_size": 2}}))
    result = simulate(mix, profile(), pairs)
    assert result.makespan_s == pytest.approx(3.0)  # two passes of 1.5 s
    assert result.functions["blip"].mean_batch_size == pytest.approx(2.0)
    unbatched = pools(pool(functions=("blip",)))
    assert simulate(mix, profile(), unbatched).makespan_s == pytest.approx(4.0)


def test_max_wait_holds_a_partial_batch() -> None:
    waits = pools(
        pool(functions=("blip",), batching={"blip": {"max_batch_size": 4, "max_wait_ms": 500}})
    )
    assert simulate(tasks(1, ["blip"]), profile(), waits).makespan_s == pytest.approx(1.5)


def test_dynamic_batching_crosses_tasks_message_scope_does_not() -> None:
    mix = tasks(2, ["blip", "blip"])
    plan = pools(
        pool(functions=("blip",), batching={"blip": {"max_batch_size": 4, "max_wait_ms": 1}})
    )
    dynamic = simulate(mix, profile(), plan)
    assert dynamic.makespan_s == pytest.approx(2.5)  # one pass of 4
    per_message = simulate(mix, profile(), plan, SimConfig(batching_scope="message"))
    assert per_message.makespan_s == pytest.approx(3.0)  # one pass of 2 per task


def test_rounds_wait_for_the_previous_round() -> None:
    mix = tasks(1, ["glip"], ["xvlm", "xvlm"])
    one = simulate(mix, profile(), pools(pool(functions=("glip", "xvlm"))))
    assert one.makespan_s == pytest.approx(2.0)
    two = simulate(mix, profile(), pools(pool(functions=("glip", "xvlm"), replicas=2)))
    assert two.makespan_s == pytest.approx(1.5)


def test_dag_form() -> None:
    # 0: glip; 1: xvlm after 0; 2: glip independent; 3: xvlm after 1 and 2
    graph = TaskGraph(
        calls=[
            GraphCall(function="glip"),
            GraphCall(function="xvlm", after=[0]),
            GraphCall(function="glip"),
            GraphCall(function="xvlm", after=[1, 2]),
        ]
    )
    plan = pools(pool(functions=("glip",), name="g"), pool(functions=("xvlm",), name="x"))
    result = simulate(CallMix(tasks=[graph]), profile(), plan)
    assert result.makespan_s == pytest.approx(2.5)  # glip, glip, then xvlm (1 waits for 2)


def test_dispatch_overhead_is_added_per_round() -> None:
    mix = tasks(1, ["glip"], ["xvlm"])
    result = simulate(mix, profile(overhead=0.1), pools(pool(functions=("glip", "xvlm"))))
    assert result.makespan_s == pytest.approx(1.7)
    overridden = SimConfig(dispatch_overhead_s=0.0, task_overhead_s=0.25)
    plan = pools(pool(functions=("glip", "xvlm")))
    assert simulate(mix, profile(overhead=0.1), plan, overridden).makespan_s == pytest.approx(1.75)


def test_max_concurrent_tasks_limits_the_orchestrator() -> None:
    plan = pools(pool(replicas=2))
    assert simulate(tasks(2, ["glip"]), profile(), plan).makespan_s == pytest.approx(1.0)
    one_at_a_time = SimConfig(max_concurrent_tasks=1)
    assert simulate(tasks(2, ["glip"]), profile(), plan, one_at_a_time).makespan_s == 2.0


def test_pools_on_one_host_share_its_cores() -> None:
    mix = tasks(1, ["glip", "blip"])
    plan = pools(pool(name="g"), pool(name="b", functions=("blip",)))
    assert simulate(mix, profile(), plan).makespan_s == pytest.approx(1.0)
    one_core = simulate(mix, profile(), plan, SimConfig(host_slots=1.0))
    assert one_core.makespan_s == pytest.approx(2.0)


def test_baseline_nodes_run_whole_tasks_serially() -> None:
    mix = tasks(4, ["glip"], ["xvlm", "xvlm"])  # 2 s per task, serial
    one = simulate(mix, profile(), BaselinePlan(gpu_type="T"))
    assert one.makespan_s == pytest.approx(8.0)
    two = simulate(mix, profile(), BaselinePlan(gpu_type="T", nodes=2))
    assert two.makespan_s == pytest.approx(4.0)
    assert two.cost_usd == pytest.approx(PRICE * 2 * 4.0 / 3600)
    assert two.pools[0].utilisation == pytest.approx(1.0)
    priced = BaselinePlan(gpu_type="T", nodes=2, price_per_hour=7.2)
    assert simulate(mix, profile(), priced).cost_usd == pytest.approx(7.2 * 2 * 4.0 / 3600)


def test_a_function_nobody_serves_is_a_clear_error() -> None:
    from dicec.errors import ConfigError

    with pytest.raises(ConfigError, match="serves none of xvlm"):
        simulate(tasks(1, ["xvlm"]), profile(), pools(pool()))
    with pytest.raises(ConfigError, match="no service times for 'depth'"):
        simulate(tasks(1, ["depth"]), profile(), pools(pool(functions=("depth",))))


def test_call_mix_from_traces_groups_rounds_by_group_id() -> None:
    def t(call_id: str, task: int, fn: str, group: str, at: float, **kw: Any) -> CallTrace:
        return CallTrace(
            call_id=call_id, task_index=task, function=fn, group_id=group, queued_at=at, **kw
        )

    traces = [
        t("a", 0, "glip", "g1", 1.0),
        t("b", 0, "blip", "g2", 2.0),
        t("c", 0, "xvlm", "g2", 2.0),
        t("c", 0, "xvlm", "g2", 2.0),  # redelivered: once
        t("d", 1, "glip", "g1", 1.0),
        t("e", 1, "blip", "g3", 2.0, cached=True),
    ]
    mix = call_mix_from_traces(traces, tasks=3)
    assert [c.function for c in mix.tasks[0].calls] == ["glip", "blip", "xvlm"]
    assert mix.tasks[0].calls[2].after == [0]
    assert [c.function for c in mix.tasks[1].calls] == ["glip"]  # the cache hit left out
    assert mix.tasks[2].calls == []
    with_cached = call_mix_from_traces(traces, include_cached=True)
    assert len(with_cached.tasks) == 2 and len(with_cached.tasks[1].calls) == 2


def test_claims_mix() -> None:
    assert claims_rounds(2) == [["glip"], ["blip", "blip", "xvlm", "xvlm"] * 2]
    assert claims_rounds(0) == [["glip"]]
    assert len(claims_rounds(2, serial=True)) == 9
    mix = claims_call_mix(100, cars_per_image=[3], seed=1)
    assert mix.function_counts() == {"glip": 100, "blip": 600, "xvlm": 600}
    assert claims_call_mix(50, seed=4) == claims_call_mix(50, seed=4)
    assert len(mix.resized(10).tasks) == 10 and len(mix.resized(250).tasks) == 250


def test_baseline_plan_from_a_pools_file() -> None:
    from worker_models.pools import load_pools

    plan = BaselinePlan.from_pools(load_pools("paper"), nodes=4)
    assert (plan.gpu_type, plan.nodes, plan.price_per_hour) == ("A100", 4, 2.2)


# -- the system's own costs, and celery-batches' flushes -------------------------------


def test_orchestrator_cpu_is_one_core_working_through_issues_in_order() -> None:
    mix = tasks(2, ["glip"])
    costly = profile().model_copy(update={"orchestrator_call_s": 0.5})
    # Its own machine: the issues finish at 0.5 and 1.0; the calls run 0.5-1.5, 1.5-2.5.
    assert simulate(mix, costly, pools(pool())).makespan_s == pytest.approx(2.5)
    # One core shared with the worker: the second issue (0.5-1.5) halves the first call's
    # speed, which ends at 2.0; the second call runs 2.0-3.0.
    shared = simulate(mix, costly, pools(pool()), SimConfig(host_slots=1.0))
    assert shared.makespan_s == pytest.approx(3.0)


def test_worker_call_overhead_is_added_to_each_pass() -> None:
    p = profile()
    p.hardware["T"].call_overhead_s = 0.25
    batched = pools(pool(functions=("blip",), batching={"blip": {"max_batch_size": 4}}))
    assert simulate(tasks(1, ["blip"] * 4), p, batched).makespan_s == pytest.approx(3.5)


def test_flush_scope_takes_whole_messages_after_max_wait_like_celery_batches() -> None:
    plan = pools(
        pool(functions=("blip",), batching={"blip": {"max_batch_size": 4, "max_wait_ms": 100}})
    )
    pairs = tasks(2, ["blip", "blip"])  # two messages of two calls
    flush = SimConfig(batching_scope="flush")
    assert simulate(pairs, profile(), plan).makespan_s == pytest.approx(2.5)  # 4 calls: go
    assert simulate(pairs, profile(), plan, SimConfig(batching_scope="message")).makespan_s == (
        pytest.approx(3.0)
    )
    # 2 of 4 messages: wait 0.1 s for more, then one pass over both messages' 4 calls.
    assert simulate(pairs, profile(), plan, flush).makespan_s == pytest.approx(2.6)
    # 4 messages: a full flush leaves at once.
    assert simulate(tasks(4, ["blip"]), profile(), plan, flush).makespan_s == pytest.approx(2.5)
    # 2 messages of 3 calls: one flush, passes of 4 and 2 (2.5 s + 1.5 s) after the wait.
    triples = tasks(2, ["blip"] * 3)
    result = simulate(triples, profile(), plan, flush)
    assert result.makespan_s == pytest.approx(4.1)
    assert result.functions["blip"].mean_batch_size == pytest.approx(3.0)


def test_redis_is_a_second_one_core_process_after_the_orchestrator() -> None:
    mix = tasks(2, ["glip"])
    both = profile().model_copy(update={"orchestrator_call_s": 0.5, "broker_call_s": 0.5})
    # Issues: orchestrator 0-0.5 and 0.5-1.0, Redis 0.5-1.0 and 1.0-1.5; the calls run
    # 1.0-2.0 and 2.0-3.0.
    assert simulate(mix, both, pools(pool())).makespan_s == pytest.approx(3.0)
