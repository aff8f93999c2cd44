"""`solve(problem, time_limit)`: the best valid plan found within the time limit.

This module is the planner's front door and owns every solver setting. It checks what needs no solver
(`precheck`), runs the anytime search (`planner.search`: a constructive plan first, then CP-SAT models of
single cohorts and of groups of cohorts that share facilitators), and reads the best plan out. The time limit
is wall clock from the call, every step included. Runs stop on a deterministic work budget when the clock
allows, so the same input and options give the same `plan_to_json`, byte for byte; the plan says which
(`stopped_by`).

"No plan exists" is only said with a reason: from a pre-check, or from a proof (a cohort's model, or a
component's, infeasible; the rule groups that cannot hold together named by assumption literals). When the
time runs out before any plan is found, the error says what was tried.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta

from ortools.sat.python import cp_model

from planner import weights
from planner.assignment import to_cohort_plan
from planner.coverage import cohort_window, describe_local, inside_hours, minutes_outside, zone
from planner.groups import GroupModel
from planner.model import CohortModel, FixedSessionError
from planner.plan import Component, Penalty, Plan, PlanningError, Session, Status, StoppedBy
from planner.problem import Problem
from planner.search import Progress, Search
from planner.slots import cohort_slots, pack_units, week_ranges


def solve(problem: Problem, time_limit: float = 10.0, *, workers: int | None = None, seed: int = 0,
          progress: Callable[[Progress], None] | None = None, stop=None, started: float | None = None) -> Plan:
    """The best plan found in `time_limit` seconds of wall clock (building, hints and every attempt included).

    `workers`: CP-SAT workers (default: this machine's CPU count). `progress`: called with a `Progress` at
    most a few times a second. `stop`: an object with `is_set()` (a `threading.Event`); when it is set the
    search ends within about a second and the best plan so far is returned (`stopped_by` "cancelled").
    Raises `PlanningError` when no plan exists (with the reason) or none was found in time (with what was
    tried).

    `started`: the `time.monotonic()` instant the caller's promise counts from (the CLI passes its process
    start, so importing the solver counts against the limit); the deterministic budget is the limit's all the
    same, so a run that stops on its budget gives the same plan either way."""
    began = time.monotonic() if started is None else min(started, time.monotonic())
    reasons = precheck(problem)
    if reasons:
        raise PlanningError(reasons)
    try:
        search = Search(problem, time_limit, workers or os.cpu_count() or 1, seed, progress, stop, began)
    except FixedSessionError as error:
        raise PlanningError(error.reasons) from None
    search.run()
    if search.infeasible:
        raise PlanningError(_explain(problem, search.infeasible, began + time_limit))
    missing = [name for name in search.order if name not in search.best]
    if missing:
        raise PlanningError(_not_found(problem, search, missing, time_limit, began))
    plan = _plan(problem, search)
    if progress is not None:
        progress(Progress(round(time.monotonic() - began, 3), plan.objective, plan.bound, plan.coverage,
                          search.solutions))
    return replace(plan, wall_seconds=round(time.monotonic() - began, 3))


def _plan(problem: Problem, search: Search) -> Plan:
    cohorts, outside, soft = [], [], []
    pairs = covered = objective = bound = 0
    for cohort in problem.cohorts:
        best = search.best[cohort.name]
        cm = search.models[cohort.name]
        cohort_plan = to_cohort_plan(problem.program, cm, best.result.assignment)
        cohorts.append(cohort_plan)
        people = {m.email: m.person for m in cohort.learners}
        sections = {s.id: s.learners for s in cohort_plan.sections}
        for session in sorted(cohort_plan.sessions, key=lambda x: (x.section, x.id)):
            for email in sections[session.section]:
                if not inside_hours(people[email], session.start, session.end):
                    outside.append(outside_hours_penalty(people[email], session))
        soft += best.result.penalties
        pairs += best.pairs
        covered += best.covered
        objective += best.result.objective
        bound += best.result.objective if cohort.name in search.proven else max(
            search.bound[cohort.name], best.result.objective)
    constructive = all(b.constructive for b in search.best.values())
    if objective >= bound:
        status, stopped = Status.OPTIMAL, StoppedBy.OPTIMAL
    else:
        status = Status.CONSTRUCTIVE if constructive else Status.FEASIBLE
        stopped = (StoppedBy.CANCELLED if search.cancelled else StoppedBy.CLOCK if search.clock
                   else StoppedBy.BUDGET)
    components = tuple(Component(tuple(c), search.largest.get(c[0], 0)) for c in search.components)
    return Plan(
        status=status, objective=objective, bound=max(bound, objective),
        coverage=covered / pairs if pairs else 1.0, cohorts=tuple(cohorts), penalties=tuple(outside + soft),
        stopped_by=stopped, components=components,
    )


# ------------------------------------------------------------------------------------------ pre-checks


def precheck(problem: Problem) -> list[str]:
    """Reasons that need no solver: counts that cannot add up."""
    program = problem.program
    reasons = []
    for cohort in problem.cohorts:
        packing = pack_units(program, cohort.weeks)
        name = cohort.name
        learners = len(cohort.learners)
        if learners == 0:
            reasons.append(f"cohort {name!r} has no learners")
        elif learners < cohort.min_section_size:
            reasons.append(
                f"cohort {name!r}: {learners} learners cannot fill one section of min_section_size "
                f"{cohort.min_section_size}"
            )
        sessions = len(packing.sessions)
        allowed = cohort.weeks * program.live_sessions_per_week
        if sessions > allowed:
            live = sum(program.unit(u).minutes for u in packing.live)
            reasons.append(
                f"cohort {name!r}: {live} live minutes need {sessions} sessions of {program.live_minutes} min, "
                f"but {cohort.weeks} weeks x live_sessions_per_week {program.live_sessions_per_week} "
                f"allow only {allowed}"
            )
        async_minutes = sum(program.unit(u).minutes for u in packing.asynchronous)
        if async_minutes > cohort.weeks * program.weekly_async_minutes:
            reasons.append(
                f"cohort {name!r}: {async_minutes} async minutes exceed {cohort.weeks} weeks x "
                f"weekly_async_minutes {program.weekly_async_minutes}"
            )
        if sessions and not cohort.facilitators:
            reasons.append(f"cohort {name!r} has live units but no facilitator")
        elif sessions:
            first, last = cohort_window(cohort)
            slots = cohort_slots(problem, cohort)
            if not slots:
                reasons.append(
                    f"cohort {name!r}: no facilitator's working hours hold a {program.live_minutes}-minute "
                    f"session on a working day between {first:%Y-%m-%d %H:%M}Z and {last:%Y-%m-%d %H:%M}Z "
                    f"(outside blackout dates and outside commitments)"
                )
            elif len(slots) < sessions:
                reasons.append(
                    f"cohort {name!r}: {sessions} sessions needed but only {len(slots)} possible starts "
                    f"inside facilitator hours in the window"
                )
            else:
                reasons += _prework_too_late(program, cohort, packing, slots)
                reasons += _prework_over_cap(program, cohort, packing, slots)[:1]
    return reasons


def _prework_over_cap(program, cohort, packing, slots) -> list[str]:
    """Prework that must be due before a session cannot all fall due by then under the weekly cap: modules
    due by program day D sit in weeks 1 .. D // 7 + 1, each holding at most weekly_async_minutes. Counted
    for every session over all the prework it and the sessions before it need (with their async
    prerequisites, which fall due no later), at the latest start any week allows."""
    n = len(packing.sessions)
    ranges = week_ranges(n, cohort.weeks, program.live_sessions_per_week, narrow=False)
    needed: set[str] = set()
    out = []
    for k in range(n):
        stack = [r for portion in packing.sessions[k] for r in program.unit(portion.unit).requires]
        while stack:
            uid = stack.pop()
            if uid in packing.asynchronous and uid not in needed:
                needed.add(uid)
                stack.extend(program.unit(uid).requires)
        last = max((slot.latest_due_day for slot in slots if slot.week <= ranges[k][1]), default=-1)
        if not needed or last < 0:
            continue
        weeks = last // 7 + 1
        minutes = sum(program.unit(u).minutes for u in needed)
        if minutes > weeks * program.weekly_async_minutes:
            taught = ", ".join(dict.fromkeys(portion.unit for portion in packing.sessions[k]))
            out.append(
                f"cohort {cohort.name!r}: session {k + 1} ({taught}) and the sessions before it need {minutes} min "
                f"of prework ({', '.join(sorted(needed))}) due prework_lead_hours {program.prework_lead_hours} h "
                f"before them, but by its latest possible start (program week {ranges[k][1]}) at most "
                f"{weeks} weeks x weekly_async_minutes {program.weekly_async_minutes} = "
                f"{weeks * program.weekly_async_minutes} min can fall due"
            )
    return out


def _prework_too_late(program, cohort, packing, slots) -> list[str]:
    """A live unit whose async prerequisites cannot fall due prework_lead_hours before any possible start."""
    latest = max(slot.latest_due_day for slot in slots)
    out = []
    for unit_id in packing.live:
        needs = [r for r in program.unit(unit_id).requires if r in packing.asynchronous]
        if needs and latest < 0:
            out.append(
                f"cohort {cohort.name!r}: unit {unit_id!r} needs prework ({', '.join(needs)}) due "
                f"prework_lead_hours {program.prework_lead_hours} h before its first session, but the last "
                f"possible start in the {cohort.weeks}-week window is earlier than that after the program starts"
            )
    return out


# ------------------------------------------------------------------------------------------ penalties


def outside_hours_penalty(person, session: Session) -> Penalty:
    """`Priya Nair joins at 07:30 CDT, 30 min before their day starts` — in the person's own time."""
    when = describe_local(session.start, person.timezone)
    outside = minutes_outside(person, session.start, session.end)
    hours = person.hours
    local_start = session.start.astimezone(zone(person.timezone))
    local_end = session.end.astimezone(zone(person.timezone))
    if local_start.weekday() not in hours.days:
        why = "on a day off"
    elif local_start.time() < hours.start:
        early = int((local_start.replace(hour=hours.start.hour, minute=hours.start.minute) - local_start)
                    / timedelta(minutes=1))
        why = f"{early} min before their day starts"
    elif local_end.date() > local_start.date() or local_end.time() > hours.end:
        if local_start.time() < hours.end:
            why = f"running {outside} min past the end of their day"
        else:
            late = int((local_start - local_start.replace(hour=hours.end.hour, minute=hours.end.minute))
                       / timedelta(minutes=1))
            why = f"{late} min after their day ends"
    else:
        why = f"{outside} min outside their hours"
    return Penalty(
        rule="outside_hours",
        weight=weights.COVERED_PAIR,
        amount=1,
        text=f"{person.name} joins {session.id} at {when}, {why}",
    )



# ------------------------------------------------------------------------------------------ reasons


_RULE_TEXT = {
    "sections": "{learners} learners must form between 1 and {max_sections} sections of at least {min_size}",
    "session_slots": "{sessions} sessions of {length} min per section need starts inside facilitator hours "
    "(weeks {weeks}, live_sessions_per_week {per_week})",
    "session_order": "the {sessions} sessions of a section must follow each other in teaching order",
    "weekly_sessions": "at most {per_week} live sessions per section per week over {weeks} weeks",
    "fixed_sessions": "fixed sessions must keep their time, facilitator and section",
    "weekly_async": "{async_minutes} async minutes with at most {cap} due per week",
    "prework_lead": "prework must fall due {lead} h before the first session needing it",
    "async_order": "async prerequisites must fall due no later than the modules needing them",
    "release_after_live": "async units after a live unit must fall due after its last session",
    "module_order": "the parts of each async unit must fall due in order (part 1 before part 2)",
}


def _explain(problem: Problem, names: list[str], deadline: float) -> list[str]:
    """Cohorts with no plan (one alone, or a component together): ask their wide model, each rule group
    behind an assumption literal, which groups cannot hold together."""
    sub = replace(problem, cohorts=tuple(c for c in problem.cohorts if c.name in names))
    group = GroupModel(sub, {c.name: False for c in sub.cohorts}, guarding=True)
    guards = group.vars.guards
    labels = sorted(guards)
    group.model.clear_objective()
    group.model.add_assumptions([guards[label] for label in labels])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = max(1.0, deadline - time.monotonic())
    status = solver.solve(group.model)
    if status != cp_model.INFEASIBLE:
        who = ", ".join(repr(n) for n in names)
        return [f"cohort(s) {who}: no plan exists with sessions in the weeks the spread rule gives them, and "
                "none was found in the wider weeks within the time limit; try a longer --time-limit"]
    core = set(solver.sufficient_assumptions_for_infeasibility())
    chosen = [label for label in labels if guards[label].index in core] or labels
    return [_reason(problem, group.cohorts, label) for label in chosen]


def _not_found(problem: Problem, search: Search, missing: list[str], time_limit: float, began: float) -> list[str]:
    names = ", ".join(repr(n) for n in missing)
    return [
        f"no plan found within the time limit of {time_limit:g} s for cohort(s) {names}: the constructive "
        f"heuristic placed no plan for them (earliest and best starts, 1 and 2 sections, spread-rule and wide "
        f"weeks) and the solver neither found one nor proved that none exists in "
        f"{time.monotonic() - began:.1f} s; try a longer --time-limit"
    ]


def _reason(problem: Problem, cohorts: Iterable[CohortModel], label: str) -> str:
    rule, _, who = label.partition("|")
    program = problem.program
    if rule == "facilitator_overlap":
        names = [cm.name for cm in cohorts if any(f.email == who for f in cm.cohort.facilitators)]
        return (f"facilitator {who} cannot lead every session asked of them without overlaps "
                f"(cohorts: {', '.join(repr(n) for n in names)})")
    cm = next(cm for cm in cohorts if cm.name == who)
    data = {
        "learners": cm.learner_count, "max_sections": cm.cohort.max_sections,
        "min_size": cm.cohort.min_section_size, "sessions": cm.session_count, "length": program.live_minutes,
        "weeks": cm.cohort.weeks, "per_week": program.live_sessions_per_week,
        "async_minutes": sum(m.minutes for m in cm.modules), "cap": program.weekly_async_minutes,
        "lead": program.prework_lead_hours,
    }
    return f"cohort {who!r}: {rule}: " + _RULE_TEXT[rule].format(**data)


__all__ = ["solve", "precheck", "outside_hours_penalty", "Progress"]
