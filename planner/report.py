"""The plain-text report `cadence plan` prints: what a designer reads to check a plan before publishing it.

Per cohort and section, every session with its UTC time, the facilitator's and each learner's local time
(with the zone's abbreviation on that date) and how far outside their working hours anyone is asked to join;
then the async modules with release and due; then coverage and the solver's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from planner.coverage import describe_local, minutes_outside, program_week, zone
from planner.plan import CohortPlan, Plan, Status, StoppedBy
from planner.problem import Cohort, Person, Problem
from planner.validate import recompute_coverage


def render_report(problem: Problem, plan: Plan) -> str:
    lines = _summary(problem, plan)
    for cohort in problem.cohorts:
        cohort_plan = next((c for c in plan.cohorts if c.name == cohort.name), None)
        if cohort_plan is not None:
            lines += [""] + _cohort(cohort, cohort_plan)
    if plan.penalties:
        lines += ["", "What the plan gave up"]
        lines += _table([("  " + p.rule, f"weight {p.weight}", f"x{p.amount}", p.text) for p in plan.penalties])
    return "\n".join(lines) + "\n"


def gap_percent(plan: Plan) -> float:
    """Distance between the objective and the solver's bound, as a share of the objective."""
    return abs(plan.objective - plan.bound) / max(abs(plan.objective), 1) * 100


def _summary(problem: Problem, plan: Plan) -> list[str]:
    lines = [
        f"Plan for {problem.program.name} ({len(problem.cohorts)} cohort{'s' if len(problem.cohorts) != 1 else ''})",
        f"Status: {plan.status.value}   objective {plan.objective}   bound {plan.bound}   "
        f"gap {gap_percent(plan):.2f}%   wall time {plan.wall_seconds:.2f} s",
        f"Search: {_stopped(plan)}",
    ]
    if len(plan.components) > 1:
        sizes = ", ".join(str(len(c.cohorts)) for c in plan.components)
        lines.append(f"Planned as {len(plan.components)} independent groups of cohorts (sizes {sizes}): "
                     f"no facilitator is shared between groups")
    pairs = _pairs(problem, plan)
    inside = sum(1 for person, start, end in pairs if minutes_outside(person, start, end) == 0)
    lines.append(f"Coverage: {plan.coverage:.1%} of (learner, session) pairs inside working hours "
                 f"({inside} of {len(pairs)}; recomputed {recompute_coverage(problem, plan):.1%})")
    return lines


_STOPPED = {
    StoppedBy.OPTIMAL: "proven optimal",
    StoppedBy.BUDGET: "stopped on its deterministic work budget (the same input gives the same plan)",
    StoppedBy.CLOCK: "stopped by the wall-clock time limit (another run may find a different plan)",
    StoppedBy.CANCELLED: "cancelled; this is the best plan found until then",
}


def _stopped(plan: Plan) -> str:
    text = _STOPPED[plan.stopped_by]
    if plan.status is Status.CONSTRUCTIVE:
        text += "; the solver did not beat the constructive plan in time"
    return text


def _pairs(problem: Problem, plan: Plan) -> list[tuple[Person, datetime, datetime]]:
    pairs = []
    for cohort in problem.cohorts:
        cohort_plan = next((c for c in plan.cohorts if c.name == cohort.name), None)
        if cohort_plan is None:
            continue
        learners = {m.email: m.person for m in cohort.learners}
        sections = {s.id: s.learners for s in cohort_plan.sections}
        for session in cohort_plan.sessions:
            pairs += [(learners[e], session.start, session.end) for e in sections.get(session.section, ()) if e in learners]
    return pairs


def _cohort(cohort: Cohort, cohort_plan: CohortPlan) -> list[str]:
    people = {m.email: m.person for m in cohort.members}
    blackout = ", ".join(d.isoformat() for d in cohort.blackout) or "none"
    lines = [
        f"== {cohort.name} ==",
        f"Home zone {cohort.timezone}; starts {cohort.start:%a %d %b %Y}; {cohort.weeks} weeks; blackout {blackout}",
    ]
    for section in cohort_plan.sections:
        sessions = [s for s in cohort_plan.sessions if s.section == section.id]
        lines += ["", f"Section {section.id}: {len(section.learners)} learners, {len(sessions)} sessions"]
        for session in sessions:
            units = ", ".join(f"{p.unit} {p.minutes} min" for p in session.units) or "(no units)"
            lines += [
                "",
                f"  Session {session.id}   {session.start:%a %d %b %Y %H:%M}-{session.end:%H:%M} UTC   "
                f"week {program_week(cohort, session.start)}",
                f"    Units: {units}",
                f"    Prework: {', '.join(session.prework) or 'none'}",
            ]
            rows = [_attendee("facilitator", session.facilitator, people.get(session.facilitator),
                              session.start, session.end)]
            rows += [_attendee("learner", email, people.get(email), session.start, session.end)
                     for email in section.learners]
            lines += _table(rows, indent="    ")
    lines += ["", "Async modules"]
    if cohort_plan.modules:
        rows = [("  module", "unit", "min", "release", "due", f"due ({cohort.timezone})")]
        rows += [
            ("  " + m.id, m.unit, str(m.minutes), f"{m.release:%a %d %b %H:%M} UTC", f"{m.due:%a %d %b %H:%M} UTC",
             describe_local(m.due, cohort.timezone))
            for m in cohort_plan.modules
        ]
        lines += _table(rows)
    else:
        lines.append("  none")
    return lines


def _attendee(role: str, email: str, person: Person | None, start: datetime, end: datetime) -> tuple[str, ...]:
    if person is None:
        return (role, email, "(not a member of this cohort)", "", "")
    return (role, f"{person.name} <{email}>", local_span(person.timezone, start, end), person.timezone,
            _verdict(person, start, end))


def local_span(zone_name: str, start: datetime, end: datetime) -> str:
    """`Wed 03 Mar 09:00-10:00 EST`: a session as someone in `zone_name` sees it."""
    day_and_time, abbreviation = describe_local(start, zone_name).rsplit(" ", 1)
    return f"{day_and_time}-{end.astimezone(zone(zone_name)):%H:%M} {abbreviation}"


def _verdict(person: Person, start: datetime, end: datetime) -> str:
    outside = minutes_outside(person, start, end)
    return f"OUTSIDE hours by {outside} min" if outside else "inside hours"


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as aligned columns (each column as wide as its widest cell)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]
