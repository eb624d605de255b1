"""`dicec paper-table`: the simulated tables sit in a sane range of the paper's figures."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.planning.paper_table import PaperTables, paper_tables
from orchestrator.planning.profiles import load_profile


@pytest.fixture(scope="module")
def tables() -> PaperTables:
    return paper_tables(load_profile("reference"))


def test_the_calibrated_baseline_is_the_papers(tables: PaperTables) -> None:
    one = tables.identical[0]
    assert one.nodes == 1
    assert one.sim_baseline_min == pytest.approx(141, rel=0.02)  # what it is calibrated to
    assert one.sim_baseline_usd == pytest.approx(5.17, rel=0.02)


def test_every_simulated_figure_is_near_the_papers(tables: PaperTables) -> None:
    for row in tables.identical + tables.different:
        for sim, paper in (
            (row.sim_baseline_min, row.paper_baseline_min),
            (row.sim_dicec_min, row.paper_dicec_min),
            (row.sim_baseline_usd, row.paper_baseline_usd),
            (row.sim_dicec_usd, row.paper_dicec_usd),
        ):
            assert 0.6 * paper <= sim <= 1.4 * paper, row
        assert row.sim_dicec_usd < row.sim_baseline_usd  # the paper's claim holds


def test_different_hardware_reductions_match_the_papers(tables: PaperTables) -> None:
    for row in tables.different:
        assert row.sim_reduction_pct == pytest.approx(row.paper_reduction_pct, abs=10), row


def test_the_planner_meets_the_deadline_no_dearer_than_the_hand_picked_plan(
    tables: PaperTables,
) -> None:
    cmp = tables.plan
    assert cmp is not None
    assert cmp.plan_result.makespan_min <= cmp.deadline_min
    assert cmp.plan_result.cost_usd <= cmp.hand_picked_result.cost_usd
    assert cmp.saving_pct >= 0


def test_cli_prints_both_tables_next_to_the_paper() -> None:
    from scripts.cli.cost import app

    result = CliRunner().invoke(app, ["paper-table", "--no-plan"])
    assert result.exit_code == 0, result.output
    assert "Identical hardware" in result.output and "Different hardware" in result.output
    assert "| 141" in result.output and "not a measurement" in result.output
