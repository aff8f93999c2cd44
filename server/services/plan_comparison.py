"""The figures a designer compares plans (variants) by, side by side: coverage, the learner-session pairs outside
working hours and their minutes, sessions per facilitator, the program weeks used. Hours are judged by
`planner.coverage.inside_hours` / `minutes_outside`, as the planner judges them. Nothing here queries the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from planner import plan as pl
from planner import problem as p
from planner.coverage import inside_hours, minutes_outside, program_week


@dataclass(frozen=True)
class PlanFigures:
    """What a designer compares plans (variants) by."""

    coverage: float
    pairs: int  # (learner, session of the learner's section) pairs
    outside_pairs: int  # of them outside the learner's hours
    outside_minutes: int  # their minutes outside, in all
    worst_minutes: int  # the most minutes outside of any one pair
    learners_outside: int  # learners with at least one session outside their hours
    sessions: int
    sections: int
    modules: int
    per_facilitator: tuple[tuple[str, int], ...]  # (name, sessions), most first
    weeks_used: int  # program weeks with at least one session (all cohorts)
    last_week: int  # the latest program week with a session
    weeks: int  # the cohorts' length in weeks (the longest)
    by_cohort: tuple[tuple[str, int, int], ...] = field(default=())  # (cohort, sections, weeks used)


def plan_figures(plan: pl.Plan, cohorts: dict[str, p.Cohort], people: dict[str, p.Person]) -> PlanFigures:
    """The comparison figures of a plan; `cohorts` by name (for their weeks), `people` by email."""
    pairs = outside_pairs = outside_total = worst = 0
    affected: set[str] = set()
    per_facilitator: Counter[str] = Counter()
    weeks_used: set[tuple[str, int]] = set()
    by_cohort, last_week, weeks = [], 0, 0
    for cp in plan.cohorts:
        home = cohorts.get(cp.name)
        learners_of = {s.id: s.learners for s in cp.sections}
        used = set()
        for session in cp.sessions:
            lead = people.get(session.facilitator)
            per_facilitator[lead.name if lead else session.facilitator] += 1
            if home is not None:
                week = program_week(home, session.start)
                used.add(week)
                weeks_used.add((cp.name, week))
                last_week = max(last_week, week)
            for email in learners_of.get(session.section, ()):
                person = people.get(email)
                if person is None:
                    continue
                pairs += 1
                if not inside_hours(person, session.start, session.end):
                    minutes = minutes_outside(person, session.start, session.end)
                    outside_pairs += 1
                    outside_total += minutes
                    worst = max(worst, minutes)
                    affected.add(email)
        weeks = max(weeks, home.weeks if home else 0)
        by_cohort.append((cp.name, len(cp.sections), len(used)))
    return PlanFigures(
        coverage=plan.coverage, pairs=pairs, outside_pairs=outside_pairs, outside_minutes=outside_total,
        worst_minutes=worst, learners_outside=len(affected), sessions=sum(len(c.sessions) for c in plan.cohorts),
        sections=sum(len(c.sections) for c in plan.cohorts), modules=sum(len(c.modules) for c in plan.cohorts),
        per_facilitator=tuple(sorted(per_facilitator.items(), key=lambda kv: (-kv[1], kv[0]))),
        weeks_used=len({w for _c, w in weeks_used}), last_week=last_week, weeks=weeks, by_cohort=tuple(by_cohort),
    )
