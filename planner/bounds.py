"""An upper bound on a cohort's objective that needs no solver.

At session k, the learners of profile p can be covered only where some section's start suits them, so the
cohort covers at most, over the session's candidate starts taken `sections` at a time, the learners some
chosen start suits. Every other term of the objective is a penalty (<= 0). So

    objective <= COVERED_PAIR * sum over sessions of max over (start_1 .. start_m) of covered learners

exactly for one section, over pairs for two (as `rules._add_coverage_bounds` does inside the model), and
for m >= 3 sections the smaller of "every learner some candidate start suits" and "the best pair plus m - 2
times the best single start" (a union covers no more than the sum of its parts). Two penalties are certain
and come off: m sections pay m - 1 extra-section penalties (the bound takes the best m), and the busiest
week's async load is at least the average (`ceil(minutes / weeks / ASYNC_PEAK_STEP)` steps). The run's bound is the sum
over cohorts (cohorts interact only through shared facilitators, which can only lower what they score).
"""

from __future__ import annotations

import numpy as np

from planner import weights
from planner.model import CohortModel
from planner.problem import Problem, Program
from planner.slots import slot_at, week_ranges


def coverage_bound(problem: Problem, cm: CohortModel, narrow: bool) -> int:
    """The bound above for one cohort, its sessions in their spread-rule weeks (narrow) or in any week that
    leaves room for the others; fixed sessions of a re-plan count at their published start."""
    if not cm.profiles:
        return 0
    sizes = np.array([p.size for p in cm.profiles], dtype=np.int64)
    ranges = week_ranges(cm.session_count, cm.cohort.weeks, problem.program.live_sessions_per_week, narrow)
    by_sections = [0] * (max(1, cm.sections) + 1)  # covered learners summed over sessions, with m sections
    for k, (lo, hi) in enumerate(ranges):
        candidates = [slot for slot in cm.slots if lo <= slot.week <= hi]
        candidates += [slot_at(problem, cm.cohort, start, email) for (_s, kk), (start, email) in cm.fixed.items()
                       if kk == k]
        if not candidates:
            continue
        patterns = np.unique(np.array([[p.inside(slot) for p in cm.profiles] for slot in candidates], dtype=bool),
                             axis=0)
        single = int((patterns * sizes).sum(axis=1).max())
        anywhere = int((patterns.any(axis=0) * sizes).sum())
        pair = (int(((patterns[:, None, :] | patterns[None, :, :]) * sizes).sum(axis=2).max())
                if len(patterns) <= 2_000 else anywhere)
        for m in range(1, len(by_sections)):
            # m >= 3: the best pair plus what each further start could add at most (a union covers no more
            # than the sum of its parts), and never more than every learner some start suits
            by_sections[m] += single if m == 1 else pair if m == 2 else min(anywhere, pair + (m - 2) * single)
    # m sections pay m - 1 extra-section penalties; the busiest week holds at least the average async load
    best = max(weights.COVERED_PAIR * covered - weights.EXTRA_SECTION * (m - 1)
               for m, covered in enumerate(by_sections) if m >= 1)
    asynchronous = sum(spec.minutes for spec in cm.modules)
    peak = -(-asynchronous // (cm.cohort.weeks * weights.ASYNC_PEAK_STEP)) if asynchronous else 0
    return best - weights.ASYNC_PEAK * peak


def floor_score(cm: CohortModel, program: Program, sections: int, covered: int) -> int:
    """A score no higher than the model's for an assignment with `sections` sections covering `covered`
    pairs: the coverage and section terms exactly, every other penalty at its largest (used before a model
    has scored the constructive plan, so that the reported objective never goes down)."""
    sessions = cm.session_count
    worst = (
        weights.RHYTHM_BREAK * sessions * sections
        + weights.ASYNC_PEAK * -(-program.weekly_async_minutes // weights.ASYNC_PEAK_STEP) * bool(cm.modules)
        + weights.MOVED_SESSION * len(cm.previous)
        + weights.FACILITATOR_CHANGE * max(0, sessions - 1) * sections
        + weights.FACILITATOR_SHARE * sections * len(cm.cohort.facilitators)
    )
    return weights.COVERED_PAIR * covered - weights.EXTRA_SECTION * (sections - 1) - worst
