"""Bounds without a solver hold: no plan scores above `coverage_bound`, none below its `floor_score`."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from planner_helpers import valid_problems

from planner.assignment import covered_pairs
from planner.bounds import coverage_bound, floor_score
from planner.construct import construct_cohort
from planner.groups import GroupModel, Limits
from planner.model import cohort_models


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_problems())
def test_each_cohort_scores_between_its_floor_and_its_coverage_bound(p):
    people = {m.email: m.person for c in p.cohorts for m in c.members}
    for cm in cohort_models(p, True):
        found = construct_cohort(p, cm, {})
        if found is None:
            continue
        assignment, narrow = found
        alone = replace(p, cohorts=(cm.cohort,))
        group = GroupModel(alone, {cm.name: narrow})
        hinted = group.hint({cm.name: assignment})
        scored = hinted.current[cm.name]  # the model's score of the constructive plan
        _pairs, covered = covered_pairs(cm, assignment, people)
        assert floor_score(cm, p.program, len(assignment.sections), covered) <= scored.objective
        outcome = group.run(Limits(deterministic=5.0, wall=10.0, workers=1, seed=0), hinted=hinted)
        best = outcome.results[cm.name].objective
        assert scored.objective <= best  # started from the constructive plan: never worse
        assert best <= coverage_bound(alone, cm, narrow)
        if outcome.status == "optimal":
            assert outcome.bound == best <= coverage_bound(alone, cm, narrow)
