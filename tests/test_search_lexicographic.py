"""GroupModel.run(lexicographic=True): coverage first, then the penalties; "optimal" only when both are proven."""

from __future__ import annotations

from planner_helpers import cohort, facilitator, member, problem, program, unit

from bench.family import problem_for
from planner.construct import construct_cohort
from planner.groups import GroupModel, Limits


def _problem():
    return problem(
        program(unit("intro", 30, "async"), unit("talk", 60, "live", requires=["intro"]),
                unit("lab", 60, "live", requires=["talk"]), unit("wrap", 60, "live", requires=["lab"]),
                live_sessions_per_week=2),
        cohort("Solo", [facilitator("f@example.com", hours="07:00-19:00"),
                        member("a@example.com", tz="Europe/London"),
                        member("b@example.com", tz="America/New_York", hours="08:00-16:00"),
                        member("c@example.com", tz="Europe/Berlin")], weeks=2),
    )


def _solve(lexicographic: bool, deterministic: float = 20.0):
    p = _problem()
    group = GroupModel(p, {"Solo": True})
    return group.run(Limits(deterministic, 30.0, 1, 0), lexicographic=lexicographic)


def test_a_lexicographic_solve_proves_the_same_optimum_as_the_weighted_one_when_they_agree():
    weighted, lexicographic = _solve(False), _solve(True)
    assert weighted.status == "optimal"
    assert lexicographic.status == "optimal"
    assert lexicographic.bound == lexicographic.results["Solo"].objective
    # one covered pair outweighs the few penalties of this problem: both orders find the same best score
    assert lexicographic.results["Solo"].objective == weighted.results["Solo"].objective


def test_a_lexicographic_solve_cut_short_is_not_called_optimal_and_its_bound_holds():
    # gen-000-one: phase 1 proves its coverage fast; phase 2 (the penalties) cannot prove in 0.05 units
    p = problem_for(0).problem
    name = p.cohorts[0].name
    group = GroupModel(p, {name: True})
    assignment, _narrow = construct_cohort(p, group.cohorts[0], {})
    hinted = group.hint({name: assignment})
    outcome = group.run(Limits(0.05, 30.0, 1, 0), hinted=hinted, lexicographic=True)
    assert outcome.status != "optimal"
    assert outcome.results and outcome.bound >= outcome.results[name].objective
