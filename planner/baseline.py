"""The greedy baseline: what a careful person with a spreadsheet does, for comparison with the solver.

Per cohort, in input order: one section with every learner; sessions in the weeks the spread rule gives
(`slots.session_weeks`); ONE weekly time in the home zone (weekday and hour) for all of them (a second
one for the second session of a week, when a cohort has more sessions than weeks), chosen by
coverage computed correctly on each session's own date; each session's facilitator is the first one of the
cohort (by email) who is inside hours and not already booked by an earlier cohort — when no facilitator is
free for some week, the next best weekly time is tried. Modules fall due as early as their prerequisites and
the weekly cap allow. Raises PlanningError when no weekly time works.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from planner import weights
from planner.coverage import cohort_window, inside_hours
from planner.plan import CohortPlan, Module, Plan, PlanningError, Section, Session, Status
from planner.problem import Cohort, Problem
from planner.slots import (
    Packing,
    Slot,
    cohort_slots,
    due_instant,
    pack_units,
    prework_of,
    session_weeks,
    slug,
    split_modules,
)


def greedy_plan(problem: Problem) -> Plan:
    from planner.solve import precheck

    reasons = precheck(problem)
    if reasons:
        raise PlanningError(reasons)
    booked: dict[str, list[tuple[datetime, datetime]]] = {}
    cohorts = []
    pairs = covered = 0
    for cohort in problem.cohorts:
        plan, cohort_pairs, cohort_covered = _plan_cohort(problem, cohort, booked)
        cohorts.append(plan)
        pairs += cohort_pairs
        covered += cohort_covered
    objective = weights.COVERED_PAIR * covered
    return Plan(
        status=Status.FEASIBLE, objective=objective, bound=objective,
        coverage=covered / pairs if pairs else 1.0, cohorts=tuple(cohorts),
    )


def _plan_cohort(problem: Problem, cohort: Cohort, booked) -> tuple[CohortPlan, int, int]:
    program = problem.program
    packing = pack_units(program, cohort.weeks)
    cohort_slug = slug(cohort.name)
    section_id = f"{cohort_slug}/a"
    learners = sorted(cohort.learners, key=lambda m: m.email)
    modules = tuple(m for u in packing.asynchronous for m in split_modules(program, cohort_slug, program.unit(u)))
    weeks = session_weeks(len(packing.sessions), cohort.weeks) if packing.sessions else ()
    slots = cohort_slots(problem, cohort)
    by_week_time: dict[tuple[int, int], Slot] = {(s.week, s.time_of_week): s for s in slots}
    times = sorted({s.time_of_week for s in slots})

    ranks = [weeks[:k].count(week) for k, week in enumerate(weeks)]  # 2nd session of a week has rank 1

    def score(tow: int, rank: int) -> int:
        total = 0
        for week, r in zip(weeks, ranks, strict=True):
            slot = by_week_time.get((week, tow))
            if slot is not None and r == rank:
                total += sum(inside_hours(m.person, slot.start, slot.end) for m in learners)
        return total

    for tows in _weekly_times(times, max(ranks, default=0) + 1, score):
        sessions = _sessions_at(problem, packing, weeks, ranks, tows, by_week_time, booked, section_id, modules)
        if sessions is None:
            continue
        due_days = _module_days(problem, cohort, packing, modules, sessions)
        if due_days is None:
            continue
        for s in sessions:
            booked.setdefault(s.facilitator, []).append((s.start, s.end))
        plan = CohortPlan(
            name=cohort.name,
            sections=(Section(section_id, tuple(m.email for m in learners)),),
            sessions=tuple(sessions),
            modules=tuple(sorted(_modules(problem, cohort, packing, modules, sessions, due_days),
                                 key=lambda m: (m.due, m.id))),
        )
        hits = sum(inside_hours(m.person, s.start, s.end) for s in sessions for m in learners)
        return plan, len(sessions) * len(learners), hits
    if not packing.sessions:
        due_days = _module_days(problem, cohort, packing, modules, [])
        if due_days is not None:
            plan = CohortPlan(cohort.name, (Section(section_id, tuple(m.email for m in learners)),), (),
                              tuple(sorted(_modules(problem, cohort, packing, modules, [], due_days),
                                           key=lambda m: (m.due, m.id))))
            return plan, 0, 0
    raise PlanningError([
        f"cohort {cohort.name!r}: the greedy baseline finds no single weekly time at which a free facilitator "
        f"can hold all {len(packing.sessions)} sessions and the prework can fall due in time"
    ])


def _weekly_times(times: list[int], count: int, score) -> list[tuple[int, ...]]:
    """Weekly times to try, best first: one per session of a week (most cohorts need one), in order."""
    ranked = [sorted(times, key=lambda t, r=r: (-score(t, r), t)) for r in range(count)]
    if count == 1:
        return [(t,) for t in ranked[0]]
    combos = [c for c in itertools.product(*(r[:8] for r in ranked)) if list(c) == sorted(set(c))]
    return sorted(combos, key=lambda c: (-sum(score(t, r) for r, t in enumerate(c)), c))


def _sessions_at(problem, packing: Packing, weeks, ranks, tows, by_week_time, booked, section_id, modules):
    sessions = []
    for k, week in enumerate(weeks):
        slot = by_week_time.get((week, tows[ranks[k]]))
        if slot is None or (sessions and slot.start < sessions[-1].end):
            return None
        free = [
            email for email in slot.facilitators
            if not any(start < slot.end and slot.start < end for start, end in booked.get(email, []))
        ]
        if not free:
            return None
        sessions.append(Session(
            id=f"{section_id}-s{k + 1:02d}", section=section_id, start=slot.start, end=slot.end,
            facilitator=free[0], units=packing.sessions[k],
            prework=prework_of(problem.program, packing, modules, k),
        ))
    return sessions


def _module_days(problem, cohort: Cohort, packing: Packing, modules, sessions) -> list[int] | None:
    """Each module on the earliest day its prerequisites and the weekly cap allow; None if prework is late."""
    program = problem.program
    lead = program.prework_lead_hours
    load: dict[int, int] = {}
    day_of_unit: dict[str, int] = {}
    days = []
    for spec in modules:
        unit = program.unit(spec.unit)
        earliest = day_of_unit.get(spec.unit, 0)  # parts of one unit fall due in order
        for r in unit.requires:
            if r in packing.live and sessions:
                end = sessions[packing.last_session(r)].end
                earliest = max(earliest, _day(cohort, end))
            elif r in day_of_unit:
                earliest = max(earliest, day_of_unit[r])
        deadline = 7 * cohort.weeks - 1
        for u in packing.live:
            if spec.unit in program.unit(u).requires and sessions:
                start = sessions[packing.first_session(u)].start
                while deadline >= 0 and (due_instant(cohort, deadline) - start).total_seconds() > -lead * 3600:
                    deadline -= 1
        day = earliest
        while day <= deadline and load.get(day // 7, 0) + spec.minutes > program.weekly_async_minutes:
            day += 1
        if day > deadline:
            return None
        load[day // 7] = load.get(day // 7, 0) + spec.minutes
        day_of_unit[spec.unit] = max(day_of_unit.get(spec.unit, 0), day)
        days.append(day)
    return days


def _day(cohort: Cohort, instant: datetime) -> int:
    from planner.slots import program_day

    return program_day(cohort, instant)


def _modules(problem, cohort: Cohort, packing: Packing, modules, sessions, days) -> list[Module]:
    program_start = cohort_window(cohort)[0]
    out = []
    for spec, day in zip(modules, days, strict=True):
        release = program_start
        for r in problem.program.unit(spec.unit).requires:
            if r in packing.live and sessions:
                release = max(release, sessions[packing.last_session(r)].end)
        out.append(Module(spec.id, spec.unit, spec.minutes, release, due_instant(cohort, day)))
    return out
