"""An upper bound on a cohort's objective that needs no solver.

At session k, the learners of profile p can be covered only where some section's start suits them, so the
cohort covers at most, over the session's candidate starts taken `sections` at a time, the learners some
chosen start suits (`cover_limits`): exactly for up to three sections (the best single start, pair, triple),
and beyond that, or when a session has too many distinct starts to try every combination, the smaller of
"every learner some candidate start suits" and "the best j - 1 starts plus the best single one" (a union
covers no more than the sum of its parts). `rules._add_coverage_bounds` puts the same limits inside the model,
tied to how many sections run. Every other term of the objective is a penalty (<= 0). Two penalties are
certain and come off: m sections pay m - 1 extra-section penalties (the bound takes the best m), and the
busiest week's async load is at least the average (`ceil(minutes / weeks / ASYNC_PEAK_STEP)` steps). The run's
bound is the sum over cohorts (cohorts interact only through shared facilitators, which can only lower what
they score).
"""

from __future__ import annotations

from functools import lru_cache

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
        patterns = np.array([[p.inside(slot) for p in cm.profiles] for slot in candidates], dtype=bool)
        for m, covered in enumerate(cover_limits(patterns, sizes, len(by_sections) - 1), start=1):
            by_sections[m] += covered
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


EXACT_TRIPLES = 300  # distinct useful starts of a session up to which triples are tried exactly


def cover_limits(patterns: np.ndarray, sizes: np.ndarray, most: int) -> list[int]:
    """`[c1, ..., c_most]`: no j of the candidate starts together suit more than c_j learners.

    `patterns[i, p]` says whether start i suits profile p, `sizes[p]` how many learners it has. Exact for j <= 2,
    and for j = 3 up to EXACT_TRIPLES starts (after dropping starts that suit a subset of what another suits);
    beyond, c_{j-1} plus the best single start, never more than every learner some start suits."""
    if most < 1:
        return []
    if len(patterns) == 0:
        return [0] * most
    return list(_cover_limits(np.ascontiguousarray(patterns, dtype=bool).tobytes(), patterns.shape[1],
                              np.ascontiguousarray(sizes, dtype=np.int64).tobytes(), most))


@lru_cache(maxsize=4096)  # a neighbourhood search builds the same cohort's model many times
def _cover_limits(packed: bytes, width: int, packed_sizes: bytes, most: int) -> tuple[int, ...]:
    sizes = np.frombuffer(packed_sizes, dtype=np.int64).astype(np.float64)
    rows = _maximal(np.unique(np.frombuffer(packed, dtype=bool).reshape(-1, width), axis=0))
    weighted = rows * sizes
    alone = weighted.sum(axis=1)
    limits = [int(alone.max())]
    if most >= 2:
        shared = weighted @ rows.T  # learners suited by both i and j
        limits.append(int((alone[:, None] + alone[None, :] - shared).max()))
        if most >= 3 and len(rows) <= EXACT_TRIPLES:
            best = 0.0
            for i in range(len(rows)):  # union of i, j, k by inclusion-exclusion
                three = (weighted * rows[i]) @ rows.T
                union = (alone[i] + alone[:, None] + alone[None, :] - shared[i][:, None] - shared[i][None, :]
                         - shared + three)
                best = max(best, float(union.max()))
            limits.append(int(round(best)))
    anywhere = int(rows.any(axis=0) @ sizes)
    while len(limits) < most:
        limits.append(min(anywhere, limits[-1] + limits[0]))
    return tuple(limits)


def _maximal(rows: np.ndarray) -> np.ndarray:
    """The distinct rows that are no strict subset of another (only those can be among the best starts)."""
    keep = np.ones(len(rows), dtype=bool)
    step = max(1, 2_000_000 // max(1, rows.size))
    for lo in range(0, len(rows), step):
        block = rows[lo:lo + step]
        within = ~(block[:, None, :] & ~rows[None, :, :]).any(axis=2)  # within[b, j]: block[b] is a subset of j
        keep[lo:lo + step] = within.sum(axis=1) == 1  # rows are distinct, so only itself
    return rows[keep]
