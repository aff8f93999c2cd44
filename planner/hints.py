"""A strong first solution for the solver, built without it: per cohort, the best weekly time (or best pair of
weekly times, one per section) in the home zone, scored on every session's own date.

This is the baseline's idea taken further — sections split learners by which of two weekly times suits
them — and it is only a hint: the solver keeps whatever it can improve on.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from planner import weights
from planner.model import CohortModel
from planner.problem import Program
from planner.slots import Slot, prework_of

Booked = dict[str, list[tuple[datetime, datetime]]]


def weekly_hint(cohorts: tuple[CohortModel, ...], program: Program) -> dict[tuple[int, int, int], tuple[datetime, str]]:
    """(cohort index, section, session) -> (start, facilitator), cohorts taken in order, facilitators booked
    first-come. Cohorts for which no consistent choice is found are left out."""
    booked: Booked = {}
    hint: dict[tuple[int, int, int], tuple[datetime, str]] = {}
    for cm in cohorts:
        if cm.fixed or not cm.session_count:
            continue
        chosen = _cohort_hint(cm, booked, program)
        if chosen is None:
            continue
        for (s, k), (slot, email) in chosen.items():
            hint[cm.index, s, k] = (slot.start, email)
            booked.setdefault(email, []).append((slot.start, slot.end))
    return hint


def _weeks(cm: CohortModel) -> list[tuple[int, int]]:
    """(week, rank within the week) of each session, from the lower end of its allowed range."""
    out, seen = [], {}
    for lo, _hi in cm.weeks:
        rank = seen.get(lo, 0)
        seen[lo] = rank + 1
        out.append((lo, rank))
    return out


def _prework_days(cm: CohortModel, program) -> list[int]:
    """Per session, the earliest program day its prework can all be due (modules due as early as the weekly
    cap allows, in order); -1 when it needs none. A slot suits the session when its latest due day is later."""
    load: dict[int, int] = {}
    earliest: dict[str, int] = {}
    day = 0
    for spec in cm.modules:
        while load.get(day // 7, 0) + spec.minutes > program.weekly_async_minutes:
            day += 1
        load[day // 7] = load.get(day // 7, 0) + spec.minutes
        earliest[spec.id] = day
    return [
        max((earliest[m] for m in prework_of(program, cm.packing, cm.modules, k)), default=-1)
        for k in range(cm.session_count)
    ]


def _cohort_hint(cm: CohortModel, booked: Booked, program):
    weeks = _weeks(cm)
    need = _prework_days(cm, program)
    if any(rank for _w, rank in weeks):
        return None  # two sessions in one week: leave it to the solver
    by_week_time: dict[tuple[int, int], Slot] = {(sl.week, sl.time_of_week): sl for sl in cm.slots}
    times = sorted({sl.time_of_week for sl in cm.slots})
    if not times or not cm.profiles:
        return None
    sizes = np.array([p.size for p in cm.profiles])
    hits = np.zeros((len(cm.profiles), len(times)))
    for j, tow in enumerate(times):
        for k, (week, _rank) in enumerate(weeks):
            slot = by_week_time.get((week, tow))
            if slot is not None and slot.latest_due_day >= need[k]:
                for i, p in enumerate(cm.profiles):
                    hits[i, j] += p.inside(slot)
    value = hits * sizes[:, None]  # covered pairs per profile and weekly time
    best_single = int(np.argmax(value.sum(axis=0)))
    plan = {0: (times[best_single], list(range(len(cm.profiles))))}
    best_score = weights.COVERED_PAIR * value[:, best_single].sum()
    if cm.sections >= 2:
        a_better = value[:, :, None] >= value[:, None, :]  # profile prefers time a over time b
        total = np.maximum(value[:, :, None], value[:, None, :]).sum(axis=0)
        size_a = (a_better * sizes[:, None, None]).sum(axis=0)
        size_b = sizes.sum() - size_a
        ok = (size_a >= max(1, cm.cohort.min_section_size)) & (size_b >= max(1, cm.cohort.min_section_size))
        ok &= size_a >= size_b  # the first section is the larger one
        score = np.where(ok, weights.COVERED_PAIR * total - weights.EXTRA_SECTION, -1)
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[a, b] > best_score:
            members_a = [i for i in range(len(cm.profiles)) if a_better[i, a, b]]
            members_b = [i for i in range(len(cm.profiles)) if not a_better[i, a, b]]
            plan = {0: (times[a], members_a), 1: (times[b], members_b)}
    chosen: dict[tuple[int, int], tuple[Slot, str]] = {}
    local: Booked = {email: list(v) for email, v in booked.items()}
    led: dict[str, int] = {}  # sections each facilitator leads so far: spread them (fair share)
    for s, (tow, members) in plan.items():
        previous_end = None
        keeper = None  # the section's facilitator so far: keep them (continuity)
        for k, (week, _rank) in enumerate(weeks):
            order = sorted((f.email for f in cm.cohort.facilitators),
                           key=lambda e: (e != keeper, led.get(e, 0), e))
            pick = _pick(cm, by_week_time.get((week, tow)), week, members, local, previous_end, need[k], order)
            if pick is None:
                return None
            chosen[s, k] = pick
            local.setdefault(pick[1], []).append((pick[0].start, pick[0].end))
            previous_end = pick[0].end
            if keeper is None:
                keeper = pick[1]
                led[keeper] = led.get(keeper, 0) + 1
    cm.hint_counts = {
        (p.key, s): (p.size if i in members else 0) for s, (_t, members) in plan.items()
        for i, p in enumerate(cm.profiles)
    }
    return chosen


def _free(email: str, slot: Slot, booked: Booked) -> bool:
    return not any(start < slot.end and slot.start < end for start, end in booked.get(email, []))


def _pick(cm: CohortModel, slot: Slot | None, week: int, members: list[int], booked: Booked, after, need: int,
          order: list[str]):
    """The best-covering slot of that week with a free facilitator (the first free one in `order`); the
    weekly slot wins ties (rhythm). Across a DST change the weekly home-zone time may suit fewer learners
    than another start that week."""
    def free_facilitator(sl: Slot):
        return next((e for e in order if e in sl.facilitators and _free(e, sl, booked)), None)

    best = None
    for sl in cm.slots:
        if sl.week != week or (after is not None and sl.start < after) or sl.latest_due_day < need:
            continue
        email = free_facilitator(sl)
        if email is None:
            continue
        score = (sum(cm.profiles[i].size for i in members if cm.profiles[i].inside(sl)), sl is slot)
        if best is None or score > best[0]:
            best = (score, sl, email)
    return None if best is None else (best[1], best[2])
