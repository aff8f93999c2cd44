"""Generated benchmark scenarios S, M and L: seeded, so every run plans exactly the same problem.

Learners are spread over time zones from Honolulu to Auckland with a few different working hours and
weeks (Sun-Thu in the Gulf), so a cohort's best time is a real trade-off; cohorts may split into two
sections; M and L share facilitators between cohorts, so cohorts compete for the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, time, timedelta

from planner.problem import Cohort, Member, Mode, Person, Problem, Program, Role, Unit, WorkingHours

ZONES = (  # (zone, working days); the first six are S's
    ("Europe/London", (0, 1, 2, 3, 4)),
    ("America/New_York", (0, 1, 2, 3, 4)),
    ("Asia/Kolkata", (0, 1, 2, 3, 4)),
    ("Europe/Berlin", (0, 1, 2, 3, 4)),
    ("America/Chicago", (0, 1, 2, 3, 4)),
    ("Asia/Dubai", (0, 1, 2, 3, 4)),
    ("Asia/Singapore", (0, 1, 2, 3, 4)),
    ("Australia/Sydney", (0, 1, 2, 3, 4)),
    ("America/Sao_Paulo", (0, 1, 2, 3, 4)),
    ("Africa/Lagos", (0, 1, 2, 3, 4)),
    ("Asia/Riyadh", (6, 0, 1, 2, 3)),
    ("Asia/Tokyo", (0, 1, 2, 3, 4)),
    ("America/Los_Angeles", (0, 1, 2, 3, 4)),
    ("Pacific/Auckland", (0, 1, 2, 3, 4)),
    ("America/Denver", (0, 1, 2, 3, 4)),
)
HOURS = ((time(9), time(17)), (time(8), time(16)), (time(9, 30), time(17, 30)), (time(10), time(18)))
FACILITATOR_ZONES = (
    "Europe/London", "America/New_York", "Asia/Singapore", "Europe/Berlin", "America/Chicago",
    "Asia/Kolkata", "Australia/Sydney", "America/Los_Angeles", "Europe/Lisbon", "Asia/Dubai",
    "America/Sao_Paulo", "Asia/Tokyo",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    cohorts: int
    learners: int  # in total
    facilitators: int
    zones: int
    weeks: int
    time_limit: float
    target: str


SCENARIOS = {
    "S": Scenario("S", 1, 30, 2, 6, 5, 2.0, "proven optimal within 2 s"),
    "M": Scenario("M", 10, 300, 5, 15, 8, 10.0, "within 1% of the bound in 10 s"),
    "L": Scenario("L", 50, 1500, 12, 15, 10, 60.0, "within 2% of the bound in 60 s, < 4 GiB"),
}


def program() -> Program:
    units = (
        Unit("welcome", "Welcome", 10, Mode.ASYNC),
        Unit("product-tour", "Product tour", 45, Mode.ASYNC, ("welcome",)),
        Unit("ticketing-basics", "Ticketing basics", 30, Mode.ASYNC, ("welcome",)),
        Unit("kickoff", "Kickoff", 60, Mode.LIVE, ("welcome",)),
        Unit("data-privacy", "Data privacy", 25, Mode.ASYNC),
        Unit("tone", "Tone and empathy", 20, Mode.EITHER, ("product-tour",)),
        Unit("difficult-calls", "Difficult calls", 90, Mode.LIVE, ("tone", "ticketing-basics", "kickoff")),
        Unit("escalations", "Escalations", 30, Mode.EITHER, ("ticketing-basics",)),
        Unit("case-review", "Case review", 60, Mode.LIVE, ("difficult-calls", "escalations", "data-privacy")),
    )
    return Program("Bench onboarding", "bench-onboarding", units)


def generate(name: str) -> Problem:
    spec = SCENARIOS[name]
    rng = random.Random(f"cadence-bench-{name}")
    facilitators = [
        Person(f"fac{i:02d}@bench.example", f"Facilitator {i:02d}", FACILITATOR_ZONES[i % len(FACILITATOR_ZONES)],
               WorkingHours(time(8), time(18)))
        for i in range(spec.facilitators)
    ]
    zones = ZONES[: spec.zones]
    per_cohort = spec.learners // spec.cohorts
    cohorts = []
    for c in range(spec.cohorts):
        # each cohort draws from a band of neighbouring zones, so some cohorts are easy and some are not
        band = rng.sample(zones, k=min(len(zones), 6))
        members = []
        for f in sorted({(c + j) % spec.facilitators for j in range(2)}):
            members.append(Member(facilitators[f], Role.FACILITATOR))
        for i in range(per_cohort):
            zone, days = rng.choice(band)
            start, end = rng.choice(HOURS)
            person = Person(f"c{c:02d}.l{i:03d}@bench.example", f"Learner {c:02d}-{i:03d}", zone,
                            WorkingHours(start, end, frozenset(days)))
            members.append(Member(person, Role.LEARNER))
        home = facilitators[c % spec.facilitators].timezone
        cohorts.append(Cohort(
            name=f"Bench {name} cohort {c:02d}",
            start=date(2027, 3, 1) + timedelta(weeks=c % 3),
            weeks=spec.weeks,
            members=tuple(members),
            timezone=home,
            max_sections=2,
            min_section_size=5,
        ))
    return Problem(program(), tuple(cohorts))
