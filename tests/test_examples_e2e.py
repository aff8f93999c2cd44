"""The shipped examples plan end to end: load, solve, validate, beat the baseline, and the CLI agrees."""

from __future__ import annotations

import json

import pytest

from planner.baseline import greedy_plan
from planner.loading import load_problem
from planner.plan import plan_to_json
from planner.solve import solve
from planner.validate import recompute_coverage, validate_plan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_problem(examples):
    return load_problem(examples / "program.toml", sorted(examples.glob("cohort-*.toml")))


@pytest.fixture(scope="module")
def examples():
    from conftest import EXAMPLES

    return EXAMPLES


def test_examples_solve_validate_and_beat_the_baseline(example_problem):
    plan = solve(example_problem, time_limit=5.0)
    assert validate_plan(example_problem, plan) == []
    assert plan.coverage == pytest.approx(recompute_coverage(example_problem, plan))
    base = greedy_plan(example_problem)
    assert validate_plan(example_problem, base) == []
    assert plan.coverage >= base.coverage
    assert plan.objective <= plan.bound
    assert {c.name for c in plan.cohorts} == {"Support APAC - March 2027", "Support Atlantic - March 2027"}


def test_cli_plan_json_matches_the_library(example_problem, examples, capsys):
    from server.cli import main

    args = ["plan", str(examples / "program.toml"), *map(str, sorted(examples.glob("cohort-*.toml"))),
            "--json", "--time-limit", "5"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    data = json.loads(printed)
    assert data["status"] in ("optimal", "feasible")
    assert printed.strip() == plan_to_json(solve(example_problem, time_limit=5.0)).strip()
