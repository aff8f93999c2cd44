"""The constructive plan: a valid plan built without the solver, in well under a second for 50 cohorts.

It is the floor of every solve and the solver's first solution. Per cohort, in order, facilitators booked
first come first served:

1. **Sections.** A re-plan keeps the published sections. Otherwise, when the cohort may split, its learner
   profiles are divided between the two weekly times that together suit most of them (each learner goes to the
   time that suits them better; a section short of `min_section_size` takes the learners who lose least by
   moving); one section when that covers no more.
2. **Sessions**, session by session across the sections (so async work between two live units can be
   released by every section's earlier session): the candidate start of the session's allowed weeks that
   covers most of the section's learners, with a free facilitator (the section's own one first), after the
   section's previous session, late enough for its prework, and early enough that the later sessions still
   fit (a backward pass finds each session's latest start). Ties keep the weekly rhythm, the facilitator and,
   in a re-plan, the published time.
3. **Modules** fall due as early as their prerequisites and the weekly cap allow, prework first (just before
   the session needing it), the rest at the end. Then, beside the sessions now placed, the same is tried
   under lower caps, 15 minutes at a time: the lowest cap at which every module still falls due in time gives
   the due days (an even load is a soft rule; the solver started from a peak it then had to find its way down
   from).

When that fails it tries again with the earliest feasible starts, then with one section, then in the wide
weeks (any week that leaves room for the other sessions). It gives up on a cohort only when all fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from planner import weights
from planner.assignment import CohortAssignment
from planner.model import CohortModel
from planner.problem import Problem
from planner.slots import Slot, prework_of, program_day, slot_at, span_of, week_ranges

Taken = Mapping[str, set[int]]  # facilitator email -> grid points already booked


def construct_cohort(problem: Problem, cm: CohortModel, taken: Taken) -> tuple[CohortAssignment, bool] | None:
    """(assignment, narrow) for one cohort, avoiding `taken`; narrow is True when every session sits in its
    spread-rule week. None when every strategy fails."""
    program = problem.program
    n = cm.session_count
    narrow_weeks = week_ranges(n, cm.cohort.weeks, program.live_sessions_per_week, True) if n else ()
    wide_weeks = week_ranges(n, cm.cohort.weeks, program.live_sessions_per_week, False) if n else ()
    memberships = [_membership(cm, split=True)]
    single = _membership(cm, split=False)
    if single is not None and single != memberships[0]:
        memberships.append(single)
    for weeks, narrow in ((narrow_weeks, True), (wide_weeks, False)):
        for members in memberships:
            if members is None:
                continue
            for earliest in (False, True):
                found = _place(problem, cm, members, weeks, narrow, taken, earliest)
                if found is not None:
                    return _level_modules(problem, cm, found), narrow
        if not n:
            break
    return None


# ---------------------------------------------------------------------------------------------- sections


def _membership(cm: CohortModel, split: bool) -> list[list[str]] | None:
    """Learner emails per section. Re-plans keep the published sections (newcomers join section a)."""
    everyone = sorted(e for p in cm.profiles for e in p.learners)
    if cm.previous_sections:
        count = max(cm.previous_sections.values()) + 1
        sections: list[list[str]] = [[] for _ in range(count)]
        for email in everyone:
            sections[cm.previous_sections.get(email, 0)].append(email)
        sections = [s for s in sections if s] if not cm.fixed else sections
        if all(len(s) >= max(1, cm.cohort.min_section_size) for s in sections) and len(sections) <= cm.sections:
            return sections
        return None if any(s > 0 for s, _k in cm.fixed) else [everyone]
    if cm.fixed and any(s > 0 for s, _k in cm.fixed):
        return None
    if not split or cm.sections < 2 or cm.session_count == 0:
        return [everyone]
    return _split(cm) or [everyone]


def _split(cm: CohortModel) -> list[list[str]] | None:
    """Two sections at the two weekly home-zone times that together suit most learners, or None.

    Each learner goes to the time that suits them on more sessions; when that leaves a section under
    `min_section_size`, the learners who lose least by moving (those neither time suits first) fill it."""
    narrow = week_ranges(cm.session_count, cm.cohort.weeks, 99, True)
    by_week_time = {(sl.week, sl.time_of_week): sl for sl in cm.slots}
    times = sorted({sl.time_of_week for sl in cm.slots})
    if len(times) < 2:
        return None
    learners = [(e, i) for i, p in enumerate(cm.profiles) for e in p.learners]
    at = [by_week_time.get((week, tow)) for week, _ in narrow for tow in times]  # weeks x times, row-major
    lengths = {slot.minutes for slot in cm.slots}
    if len(lengths) == 1 and all(slot.on_grid for slot in cm.slots):  # the usual case, without a call per slot
        grid = [-1 if slot is None else slot.index for slot in at]
        minutes = lengths.pop()
        rows = [[i in starts for i in grid] for starts in (p.starts(minutes) for p in cm.profiles)]
    else:
        rows = [[slot is not None and p.inside(slot) for slot in at] for p in cm.profiles]
    hits = np.array(rows, dtype=np.float64).reshape(len(cm.profiles), len(narrow), len(times)).sum(axis=1)
    # sessions each learner would be inside hours, per weekly time; times alike for every learner count once
    value = np.unique(hits[[i for _e, i in learners]], axis=1)
    total, least, count = len(learners), max(1, cm.cohort.min_section_size), value.shape[1]
    if count < 2 or total < 2 * least:
        return None
    cols = np.arange(count)
    best: tuple[float, int, int] | None = None
    step = max(1, 2_000_000 // max(1, total * count))
    for lo in range(0, count, step):
        a = cols[lo:lo + step]
        gain = value[:, a, None] - value[:, None, :]  # [learner, a, b]: what a learner loses going to b, not a
        order = np.sort(gain, axis=0)
        sums = np.concatenate([np.zeros((1, *gain.shape[1:])), np.cumsum(order, axis=0)])
        in_b = (gain < 0).sum(axis=0)  # learners b suits better
        size_b = np.clip(in_b, least, total - least)
        filled = np.take_along_axis(sums, size_b[None], axis=0)[0] - np.take_along_axis(sums, in_b[None], axis=0)[0]
        # b short: its fill loses sum(order[in_b:size_b]) >= 0; a short: b-learners who gain least move back
        score = np.maximum(value[:, a, None], value[:, None, :]).sum(axis=0) - np.abs(filled)
        score = np.where((total - size_b >= size_b) & (a[:, None] != cols[None, :]), score, -1.0)
        i, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[i, b] >= 0 and (best is None or score[i, b] > best[0]):
            best = (float(score[i, b]), int(a[i]), int(b))
    if best is None or weights.COVERED_PAIR * best[0] - weights.EXTRA_SECTION <= (
            weights.COVERED_PAIR * (value.sum(axis=0).max())):
        return None
    _score, a, b = best
    gain = value[:, a] - value[:, b]
    size_b = int(np.clip((gain < 0).sum(), least, total - least))
    ranked = sorted(range(total), key=lambda i: (gain[i], learners[i][0]))  # most b-minded first
    second = sorted(learners[i][0] for i in ranked[:size_b])
    first = sorted(learners[i][0] for i in ranked[size_b:])
    return [first, second]


# ---------------------------------------------------------------------------------------------- sessions


def _free(email: str, slot: Slot, taken: Taken, span: int) -> bool:
    points = taken.get(email)
    return not points or not any(slot.index + i in points for i in range(span))


def _place(problem: Problem, cm: CohortModel, members: list[list[str]], weeks, narrow: bool, taken: Taken,
           earliest: bool) -> CohortAssignment | None:
    program = problem.program
    span = span_of(problem.program)
    gap = span
    n = cm.session_count
    booked: dict[str, set[int]] = {e: set(points) for e, points in taken.items()}
    profile_of = {e: p for p in cm.profiles for e in p.learners}
    counts = []
    for learners in members:
        c: dict[int, int] = {}
        for e in learners:
            c[profile_of[e].key] = c.get(profile_of[e].key, 0) + 1
        counts.append([(cm.profiles[key], size) for key, size in sorted(c.items())])
    fixed = {
        (s, k): (slot_at(problem, cm.cohort, start, email), email) for (s, k), (start, email) in cm.fixed.items()
    }
    latest = [_latest_starts(cm, weeks, booked, span, gap, fixed, s) for s in range(len(members))]
    if any(row is None for row in latest):
        return None
    modules = _Modules(problem, cm)
    starts: dict[tuple[int, int], tuple[Slot, str]] = {}
    keeper: dict[int, str] = {}
    led: dict[str, int] = {}
    ranks = _ranks(weeks)
    tow_at: dict[tuple[int, int, int], int] = {}  # (section, week, rank) -> time of week
    for k in range(n):
        need = modules.schedule_prework(k, starts, len(members))
        if need is None:
            return None
        for s in range(len(members)):
            if (s, k) in fixed:
                pick = fixed[s, k]
            else:
                pick = _best(cm, s, k, weeks[k], narrow, counts[s], starts, booked, span, gap, need,
                             latest[s][k], keeper.get(s), led, ranks, tow_at, earliest, program.live_sessions_per_week)
                if pick is None:
                    return None
            slot, email = pick
            starts[s, k] = pick
            booked.setdefault(email, set()).update(range(slot.index, slot.index + span))
            if s not in keeper:
                keeper[s] = email
                led[email] = led.get(email, 0) + 1
            week, rank = ranks[k]
            tow_at[s, week, rank] = slot.time_of_week
    if not modules.schedule_rest(starts, len(members)):
        return None
    return CohortAssignment(cm.name, tuple(tuple(m) for m in members), starts, tuple(modules.day))


def _ranks(weeks) -> list[tuple[int, int]]:
    """(week, rank within the week) of each session, from the lower end of its allowed range."""
    out, seen = [], {}
    for lo, _hi in weeks:
        out.append((lo, seen.get(lo, 0)))
        seen[lo] = seen.get(lo, 0) + 1
    return out


def _latest_starts(cm: CohortModel, weeks, booked, span: int, gap: int, fixed, s: int) -> list[int] | None:
    """The latest grid index each session of section s may start at so that the later ones still fit (a
    backward pass over the candidates, ignoring coverage and prework)."""
    n = cm.session_count
    out = [0] * n
    limit = None
    for k in range(n - 1, -1, -1):
        if (s, k) in fixed:
            index = fixed[s, k][0].index
        else:
            lo, hi = weeks[k]
            index = None
            for slot in reversed(cm.slots):
                if limit is not None and slot.index > limit:
                    continue
                if lo <= slot.week <= hi and any(_free(e, slot, booked, span) for e in slot.facilitators):
                    index = slot.index
                    break
            if index is None:
                return None
        out[k] = index
        limit = index - gap
    return out


def _best(cm: CohortModel, s: int, k: int, week_range, narrow: bool, counts, starts, booked, span: int, gap: int,
          need: int, latest: int, keeper: str | None, led: dict[str, int], ranks, tow_at, earliest: bool,
          per_week: int):
    lo, hi = week_range
    after = starts[s, k - 1][0].index + gap if k else None
    in_week: dict[int, int] = {}
    if not narrow:
        for kk in range(k):
            in_week[starts[s, kk][0].week] = in_week.get(starts[s, kk][0].week, 0) + 1
    previous = cm.previous.get((s, k))
    week, rank = ranks[k]
    rhythm = tow_at.get((s, week - 1, rank)) if narrow else None
    best = None
    for slot in cm.slots:
        if slot.index > latest:
            break
        if not lo <= slot.week <= hi or (after is not None and slot.index < after) or slot.latest_due_day < need:
            continue
        if not narrow and in_week.get(slot.week, 0) >= per_week:
            continue
        order = sorted(slot.facilitators, key=lambda e: (e != keeper, led.get(e, 0) if keeper is None else 0, e))
        email = next((e for e in order if _free(e, slot, booked, span)), None)
        if email is None:
            continue
        if earliest:
            return slot, email
        covered = sum(size for p, size in counts if p.inside(slot))
        score = weights.COVERED_PAIR * covered
        if previous is not None and previous != (slot.start, email):
            score -= weights.MOVED_SESSION
        if rhythm is not None and rhythm != slot.time_of_week:
            score -= weights.RHYTHM_BREAK
        if keeper is not None and email != keeper:
            score -= weights.FACILITATOR_CHANGE
        if best is None or score > best[0]:
            best = (score, slot, email)
    return None if best is None else (best[1], best[2])


# ---------------------------------------------------------------------------------------------- modules


def _level_modules(problem: Problem, cm: CohortModel, assignment: CohortAssignment) -> CohortAssignment:
    """The assignment with its modules placed again beside its sessions under the lowest weekly cap (a
    multiple of weights.ASYNC_PEAK_STEP below the busiest week's load) at which each falls due in time: by
    the latest due day of every session it is prework for, after its prerequisites, within the window."""
    if not cm.modules:
        return assignment
    step = weights.ASYNC_PEAK_STEP
    weeks = cm.cohort.weeks
    load: dict[int, int] = {}
    for spec, day in zip(cm.modules, assignment.due_days, strict=True):
        load[day // 7] = load.get(day // 7, 0) + spec.minutes
    peak = math.ceil(max(load.values()) / step)
    sections = len(assignment.sections)
    deadline: dict[str, int] = {}
    for k in range(cm.session_count):
        latest = min(assignment.starts[s, k][0].latest_due_day for s in range(sections))
        for module_id in prework_of(problem.program, cm.packing, cm.modules, k):
            deadline[module_id] = min(deadline.get(module_id, latest), latest)
    lowest = max(math.ceil(sum(m.minutes for m in cm.modules) / weeks), max(m.minutes for m in cm.modules))
    for steps in range(math.ceil(lowest / step), peak):
        modules = _Modules(problem, cm, cap=steps * step)
        placed = all(modules.schedule_prework(k, assignment.starts, sections) is not None
                     for k in range(cm.session_count)) and modules.schedule_rest(assignment.starts, sections)
        if placed and all(day <= deadline.get(spec.id, day) for spec, day in zip(cm.modules, modules.day, strict=True)):
            return replace(assignment, due_days=tuple(modules.day))
    return assignment


class _Modules:
    """Due days of the cohort's modules, each as early as its prerequisites and the weekly cap allow."""

    def __init__(self, problem: Problem, cm: CohortModel, cap: int | None = None):
        self.program = problem.program
        self.cap = problem.program.weekly_async_minutes if cap is None else cap
        self.cm = cm
        self.day: list[int | None] = [None] * len(cm.modules)
        self.load: dict[int, int] = {}
        self.last_day = 7 * cm.cohort.weeks - 1

    def _async_closure(self, units: set[str]) -> set[str]:
        found, stack = set(), list(units)
        while stack:
            uid = stack.pop()
            if uid in found or uid not in self.cm.packing.asynchronous:
                continue
            found.add(uid)
            stack.extend(self.program.unit(uid).requires)
        return found

    def schedule_prework(self, k: int, starts, sections: int) -> int | None:
        """Schedule the prework of session k (and what it needs); the latest due day among it, -1 if none,
        None when it cannot fit."""
        prework = prework_of(self.program, self.cm.packing, self.cm.modules, k)
        if not prework:
            return -1
        units = {m.unit for m in self.cm.modules if m.id in prework}
        if not self._schedule(self._async_closure(units), starts, sections):
            return None
        index = {m.id: i for i, m in enumerate(self.cm.modules)}
        return max(self.day[index[m]] for m in prework)

    def schedule_rest(self, starts, sections: int) -> bool:
        return self._schedule(set(self.cm.packing.asynchronous), starts, sections)

    def _schedule(self, units: set[str], starts, sections: int) -> bool:
        cm, program = self.cm, self.program
        previous_part: dict[str, int] = {}
        for i, spec in enumerate(cm.modules):
            if spec.unit not in units or self.day[i] is not None:
                if self.day[i] is not None:
                    previous_part[spec.unit] = self.day[i]
                continue
            earliest = previous_part.get(spec.unit, 0)
            for required in program.unit(spec.unit).requires:
                if required in cm.packing.live:
                    last = cm.packing.last_session(required)
                    ends = [starts[s, last][0].end for s in range(sections) if (s, last) in starts]
                    if len(ends) < sections:
                        return False  # released by a session not placed yet
                    earliest = max([earliest] + [program_day(cm.cohort, end) for end in ends])
                elif required in cm.packing.asynchronous:
                    days = [self.day[j] for j, m in enumerate(cm.modules) if m.unit == required]
                    if any(d is None for d in days):
                        return False
                    earliest = max([earliest] + days)
            day = earliest
            while day <= self.last_day and self.load.get(day // 7, 0) + spec.minutes > self.cap:
                day += 1
            if day > self.last_day:
                return False
            self.day[i] = day
            self.load[day // 7] = self.load.get(day // 7, 0) + spec.minutes
            previous_part[spec.unit] = day
        return True
