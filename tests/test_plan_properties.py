"""Every plan the solver returns for a random valid problem passes the solver-independent validator, and its
coverage figure is the one recomputed from local working hours."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from planner_helpers import valid_problems

from planner.plan import PlanningError, plan_to_json
from planner.solve import solve
from planner.validate import recompute_coverage, validate_plan


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


def _mutations(plan):
    """(rule or rules, broken plan) pairs that must always be caught, built from a real solver plan."""
    from dataclasses import replace
    from datetime import timedelta

    cohort = plan.cohorts[0]

    def with_cohort(**changes):
        return replace(plan, cohorts=(replace(cohort, **changes),) + plan.cohorts[1:])

    yield "coverage", replace(plan, coverage=plan.coverage - 0.5 if plan.coverage > 0.5 else plan.coverage + 0.5)
    section = cohort.sections[0]
    yield "section_partition", with_cohort(sections=(replace(section, learners=section.learners[1:]),) + cohort.sections[1:])
    if cohort.sessions:
        first = cohort.sessions[0]
        longer = replace(first, end=first.end + timedelta(minutes=15))
        yield "session_length", with_cohort(sessions=(longer,) + cohort.sessions[1:])
        yield "facilitator_member", with_cohort(sessions=(replace(first, facilitator=section.learners[0]),) + cohort.sessions[1:])
        taught = next((s for s in cohort.sessions if s.units), None)
        if taught is not None:
            shorter = replace(taught, units=taught.units[:-1])
            # a live unit loses minutes; an either unit losing its only portion is then neither live nor async
            yield "live_coverage|either_mode", with_cohort(sessions=tuple(shorter if s is taught else s for s in cohort.sessions))
    if cohort.modules:
        # an either unit given as a single module is then neither live nor async
        yield "async_modules|either_mode", with_cohort(modules=cohort.modules[1:])
        module = cohort.modules[0]
        yield "module_release", with_cohort(modules=(replace(module, release=module.due),) + cohort.modules[1:])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_problems())
def test_the_validator_catches_mutations_of_real_plans(problem):
    try:
        plan = solve(problem, time_limit=2)
    except PlanningError:
        return
    for rule, broken in _mutations(plan):
        found = {v.rule for v in validate_plan(problem, broken)}
        assert found & set(rule.split("|")), (rule, found)
