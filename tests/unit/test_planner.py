"""The planner on toy profiles whose cheapest plan is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicec.errors import PlanError
from orchestrator.planning.callmix import from_rounds
from orchestrator.planning.planner import plan, plan_detailed, set_partitions, write_pools_file
from orchestrator.planning.profiles import Profile
from worker_models.pools import load_pools


def toy_profile(memory_gb: float | None = None) -> Profile:
    """fast: $4/h, glip 1 s; slow: $1/h, glip 2 s. blip is light on both."""

    def fns(glip_s: float) -> dict[str, object]:
        return {
            "glip": {"memory_gb": 10.0, "points": [{"batch_size": 1, "service_s": glip_s}]},
            "blip": {"memory_gb": 10.0, "points": [{"batch_size": 1, "service_s": 0.2}]},
        }

    hw = {"price_per_hour": 4.0, "memory_gb": memory_gb, "functions": fns(1.0)}
    slow = {"price_per_hour": 1.0, "memory_gb": memory_gb, "functions": fns(2.0)}
    return Profile.model_validate({"hardware": {"fast": hw, "slow": slow}})


def test_set_partitions() -> None:
    parts = list(set_partitions(["a", "b", "c"]))
    assert len(parts) == 5  # Bell(3)
    assert [["a", "b", "c"]] in parts and [["a"], ["b"], ["c"]] in parts


def test_picks_the_cheaper_slow_gpu_with_more_replicas() -> None:
    mix = from_rounds([[["glip"]]] * 100)  # 100 s of work on fast, 200 s on slow
    found = plan_detailed(mix, toy_profile(), None, deadline_s=60.0, concurrency=1)
    (pool,) = found.pools.pools
    assert pool.gpu_type == "slow" and pool.replicas == 4  # 50 s, $0.056 vs fast x2 $0.111
    assert found.simulated.makespan_s <= 60.0
    assert found.simulated.cost_usd == pytest.approx(1.0 * 4 * 50 / 3600)
    assert found.lower_bound_usd <= found.simulated.cost_usd


def test_a_tight_deadline_needs_the_fast_gpu() -> None:
    mix = from_rounds([[["glip"]]] * 10)
    found = plan(mix, toy_profile(), None, deadline_s=1.5, concurrency=1)
    (pool,) = found.pools
    assert pool.gpu_type == "fast" and pool.replicas == 10  # slow's 2 s call can never fit


def test_light_functions_share_a_pool() -> None:
    mix = from_rounds([[["glip", "blip"]]] * 20)  # glip 40 s + blip 4 s on slow
    found = plan_detailed(mix, toy_profile(), None, deadline_s=100.0, concurrency=1)
    (pool,) = found.pools.pools
    assert sorted(pool.functions) == ["blip", "glip"] and pool.gpu_type == "slow"
    assert pool.replicas == 1
    assert found.simulated.makespan_s == pytest.approx(44.0)


def test_memory_keeps_models_apart() -> None:
    mix = from_rounds([[["glip", "blip"]]] * 20)
    found = plan(mix, toy_profile(memory_gb=16.0), None, deadline_s=100.0, concurrency=1)
    assert sorted(len(p.functions) for p in found.pools) == [1, 1]  # 20 GB do not fit 16


def test_resizes_the_mix_to_the_tasks_asked() -> None:
    mix = from_rounds([[["glip"]]] * 10)
    found = plan_detailed(mix, toy_profile(), 100, deadline_s=60.0, concurrency=1)
    assert found.simulated.tasks == 100


def test_impossible_deadline_and_budget_are_refused() -> None:
    mix = from_rounds([[["glip"]]] * 10)
    with pytest.raises(PlanError, match="longest task alone takes"):
        plan(mix, toy_profile(), None, deadline_s=0.5)
    with pytest.raises(PlanError, match="no pool plan meets the deadline"):
        plan(mix, toy_profile(), None, deadline_s=1.5, concurrency=1, max_replicas=4)
    with pytest.raises(PlanError, match="over the budget"):
        plan(mix, toy_profile(), None, deadline_s=60.0, budget=0.001)
    with pytest.raises(PlanError, match="no GPU type"):
        plan(mix, toy_profile(), None, deadline_s=60.0, gpu_types=["none"])


def test_written_plan_is_a_valid_pools_file(tmp_path: Path) -> None:
    mix = from_rounds([[["glip", "blip"]]] * 20)
    found = plan(mix, toy_profile(memory_gb=16.0), None, deadline_s=100.0, concurrency=1)
    path = tmp_path / "plan.yaml"
    write_pools_file(found, path, header="planned")
    loaded = load_pools(path)
    assert loaded.pools == found.pools and loaded.gpu_types == found.gpu_types
