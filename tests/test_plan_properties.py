"""Every plan the solver returns for a random valid problem passes the solver-independent validator, and its
coverage figure is the one recomputed from local working hours."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from planner_helpers import valid_problems

from planner.plan import PlanningError, plan_to_json
from planner.validate import recompute_coverage, validate_plan

solve = pytest.importorskip("planner.solve").solve


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_problems())
def test_every_plan_of_a_random_valid_problem_obeys_every_rule(problem):
    try:
        plan = solve(problem, time_limit=2)
    except PlanningError as error:
        # The strategy is sized so a plan usually exists; when none does, the reasons must say why.
        assert error.reasons and all(reason.strip() for reason in error.reasons)
        return
    assert validate_plan(problem, plan) == []
    assert abs(recompute_coverage(problem, plan) - plan.coverage) <= 1e-6
    plan_to_json(plan)  # every instant serialises as aware UTC


@pytest.mark.slow
def test_the_shipped_examples_plan_validate_and_report(examples):
    from planner.loading import load_problem
    from planner.report import render_report

    problem = load_problem(examples / "program.toml", [examples / "cohort-apac.toml", examples / "cohort-atlantic.toml"])
    plan = solve(problem, time_limit=5)
    assert validate_plan(problem, plan) == []
    assert abs(recompute_coverage(problem, plan) - plan.coverage) <= 1e-6
    report = render_report(problem, plan)
    for cohort in problem.cohorts:
        assert f"== {cohort.name} ==" in report
        for learner in cohort.learners:
            assert learner.email in report
    assert "Europe/London" in report and "Asia/Singapore" in report
