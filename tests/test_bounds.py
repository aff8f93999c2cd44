"""Bounds without a solver hold: no plan scores above `coverage_bound`, none below its `floor_score`."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_helpers import valid_problems

from planner.assignment import covered_pairs
from planner.bounds import cover_limits, coverage_bound, floor_score
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


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda width: st.tuples(
    st.lists(st.lists(st.booleans(), min_size=width, max_size=width), min_size=1, max_size=10),
    st.lists(st.integers(1, 5), min_size=width, max_size=width),
    st.integers(1, 5),
)))
def test_cover_limits_are_exact_for_up_to_three_starts_and_an_upper_bound_beyond(case):
    """c_j against every choice of j starts: equal for j <= 3, never below for more (the cut removes no plan)."""
    rows, sizes, most = case
    patterns, weights = np.array(rows, dtype=bool), np.array(sizes)
    limits = cover_limits(patterns, weights, most)
    assert len(limits) == most and limits == sorted(limits)
    for j in range(1, most + 1):
        best = max(int(np.logical_or.reduce(patterns[list(chosen)], axis=0) @ weights)
                   for chosen in itertools.combinations_with_replacement(range(len(rows)), j))
        assert limits[j - 1] == best if j <= 3 else limits[j - 1] >= best
