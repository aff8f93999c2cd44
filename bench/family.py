"""A seeded family of generated planning problems of many shapes and sizes (issue 8).

`problem_for(seed)` returns one `Generated` problem; the same seed always gives the same problem. Shapes vary
on purpose, so that a planner tuned to one case shows it:

- programs of 5-30 units, 1-10 of them live, some `either`, prerequisite chains and fans; live sessions of
  45-120 min, 1-3 sessions a week, weekly async caps of 60-240 min, prework leads of 12-48 h;
- 1-60 cohorts of 5-60 learners, 1-3 sections, minimum section sizes of 1-8, starts staggered over weeks;
- facilitators pooled by region (Americas, EMEA, APAC), 1-4 per cohort, each pool shared by 2-8 cohorts,
  one facilitator of EMEA on a Sun-Thu week;
- learners mostly in their cohort's region with some from the next one, in :30 and :45 zones too
  (Kolkata, Kathmandu, Adelaide, St John's, Tehran), a few on Sun-Thu weeks;
- public-holiday blackout dates, and program windows across the March and October/November DST changes.

`ROLLOUT` are the five problems of the issue's table (a 20-24 unit support-onboarding rollout).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, time, timedelta

from planner.problem import Cohort, Member, Mode, Person, Problem, Program, Role, Unit, WorkingHours
from planner.slots import pack_units

MON_FRI = frozenset({0, 1, 2, 3, 4})
SUN_THU = frozenset({6, 0, 1, 2, 3})

REGIONS = {
    "Americas": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
                 "America/Sao_Paulo", "America/St_Johns", "America/Mexico_City", "America/Toronto"),
    "EMEA": ("Europe/London", "Europe/Berlin", "Europe/Paris", "Africa/Lagos", "Africa/Johannesburg",
             "Asia/Dubai", "Asia/Riyadh", "Asia/Tehran", "Europe/Istanbul"),
    "APAC": ("Asia/Kolkata", "Asia/Kathmandu", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
             "Australia/Adelaide", "Pacific/Auckland", "Asia/Manila"),
}
NEXT_REGION = {"Americas": "EMEA", "EMEA": "APAC", "APAC": "Americas"}
SUN_THU_ZONES = {"Asia/Riyadh"}
HOURS = ((time(9), time(17)), (time(8), time(16)), (time(9, 30), time(17, 30)), (time(10), time(18)),
         (time(8, 30), time(17)))
# Public holidays that fall in the generated windows (a few per region; blackout dates of the home zone).
HOLIDAYS = {
    "Americas": (date(2027, 1, 18), date(2027, 2, 15), date(2027, 5, 31), date(2027, 7, 5), date(2027, 9, 6),
                 date(2027, 10, 11), date(2027, 11, 25)),
    "EMEA": (date(2027, 3, 26), date(2027, 3, 29), date(2027, 5, 3), date(2027, 5, 31), date(2027, 8, 30),
             date(2027, 12, 27)),
    "APAC": (date(2027, 1, 26), date(2027, 2, 8), date(2027, 3, 26), date(2027, 4, 29), date(2027, 10, 25),
             date(2027, 11, 1)),
}
# Window starts: across the March changes (US 14 Mar, EU 28 Mar, Sydney 4 Apr) or the autumn ones
# (Sydney 3 Oct, EU 31 Oct, US 7 Nov 2027).
STARTS = (date(2027, 2, 22), date(2027, 3, 8), date(2027, 9, 20), date(2027, 10, 18), date(2027, 5, 3))


@dataclass(frozen=True)
class Generated:
    name: str
    problem: Problem
    time_limit: float
    shape: str  # a short description for the table

    @property
    def cohorts(self) -> int:
        return len(self.problem.cohorts)

    @property
    def learners(self) -> int:
        return sum(len(c.learners) for c in self.problem.cohorts)

    @property
    def shares_facilitators(self) -> bool:
        seen: dict[str, int] = {}
        for c in self.problem.cohorts:
            for f in c.facilitators:
                seen[f.email] = seen.get(f.email, 0) + 1
        return any(n > 1 for n in seen.values())


# ---------------------------------------------------------------------------------------------- programs


def _program(rng: random.Random, units: int, live: int, either: int, live_minutes: int,
             live_unit_minutes: tuple[int, int] | None = None) -> Program:
    kinds = [Mode.LIVE] * live + [Mode.EITHER] * either + [Mode.ASYNC] * (units - live - either)
    rng.shuffle(kinds)
    if kinds[0] is Mode.LIVE and Mode.ASYNC in kinds:  # programs usually open with something to read
        j = kinds.index(Mode.ASYNC)
        kinds[0], kinds[j] = kinds[j], kinds[0]
    made: list[Unit] = []
    for i, kind in enumerate(kinds):
        if kind is Mode.LIVE:
            lo, hi = live_unit_minutes or (30, min(120, live_minutes + live_minutes // 2))
            minutes = rng.randrange(lo, hi + 1, 15)
        elif kind is Mode.EITHER:
            minutes = rng.randrange(15, 46, 5)
        else:
            minutes = rng.randrange(10, 61, 5)
        requires: list[str] = []
        if made:
            for _ in range(rng.choice((0, 1, 1, 2))):
                r = rng.choice(made[-6:]).id
                if r not in requires:
                    requires.append(r)
        made.append(Unit(f"u{i + 1:02d}", f"Unit {i + 1}", minutes, kind, tuple(requires)))
    return Program(
        name="Generated program", id="generated", units=tuple(made), live_minutes=live_minutes,
        module_max_minutes=rng.choice((10, 15, 15)), weekly_async_minutes=rng.choice((60, 90, 120, 150, 240)),
        live_sessions_per_week=rng.choice((1, 2, 2, 3)), prework_lead_hours=rng.choice((12, 24, 24, 48)),
    )


def _weeks_needed(program: Program, at_least: int) -> int:
    """The fewest weeks (>= at_least) that hold the packed sessions and keep the async work at most 85% of
    the weekly cap (designers leave slack; a program due at 98% of its cap in 10-minute modules with
    prerequisites may have no plan at all, and proving that is a bin-packing proof no pre-check makes)."""
    weeks = at_least
    while weeks < 40:
        packing = pack_units(program, weeks)
        asynchronous = sum(program.unit(u).minutes for u in packing.asynchronous)
        sessions = len(packing.sessions)
        if (sessions <= weeks * program.live_sessions_per_week
                and asynchronous <= 0.85 * weeks * program.weekly_async_minutes):
            return weeks
        weeks += 1
    return weeks


# ---------------------------------------------------------------------------------------------- people


def _learner(rng: random.Random, key: str, region: str) -> Person:
    zone_region = region if rng.random() < 0.8 else NEXT_REGION[region]
    zone = rng.choice(REGIONS[zone_region])
    start, end = rng.choice(HOURS)
    days = SUN_THU if zone in SUN_THU_ZONES else MON_FRI
    return Person(f"{key}@gen.example", f"Learner {key}", zone, WorkingHours(start, end, days))


def _facilitators(rng: random.Random, region: str, count: int) -> list[Person]:
    out = []
    for i in range(count):
        zone = REGIONS[region][i % len(REGIONS[region])]
        days = SUN_THU if (region == "EMEA" and i == 1) else MON_FRI
        if days is SUN_THU:
            zone = "Asia/Riyadh"
        hours = rng.choice(((time(8), time(18)), (time(9), time(17)), (time(7, 30), time(16, 30))))
        out.append(Person(f"{region.lower()}-f{i:02d}@gen.example", f"{region} facilitator {i}", zone,
                          WorkingHours(*hours, days)))
    return out


def _cohorts(rng: random.Random, program: Program, count: int, learners: tuple[int, int], per_cohort: tuple[int, int],
             share: tuple[int, int], sections: tuple[int, int], weeks: int, tag: str) -> tuple[Cohort, ...]:
    regions = [rng.choice(tuple(REGIONS)) for _ in range(count)]
    facilitators_of = {c: rng.randint(*per_cohort) for c in range(count)}
    pools = {}
    for region in REGIONS:
        mine = [c for c in range(count) if regions[c] == region]
        if mine:
            seats = sum(facilitators_of[c] for c in mine)
            size = max(max(facilitators_of[c] for c in mine), math.ceil(seats / rng.randint(*share)))
            pools[region] = _facilitators(rng, region, size)
    base = rng.choice(STARTS)
    out = []
    for c in range(count):
        region = regions[c]
        pool = pools[region]
        first = rng.randrange(len(pool))
        leads = [pool[(first + j) % len(pool)] for j in range(min(facilitators_of[c], len(pool)))]
        size = rng.randint(*learners)
        members = [Member(p, Role.FACILITATOR) for p in leads]
        members += [Member(_learner(rng, f"{tag}c{c:02d}l{i:03d}", region), Role.LEARNER) for i in range(size)]
        start = base + timedelta(weeks=rng.randrange(0, 9))
        end = start + timedelta(weeks=weeks)
        blackout = tuple(d for d in HOLIDAYS[region] if start <= d < end and rng.random() < 0.8)
        max_sections = rng.randint(*sections)
        out.append(Cohort(
            name=f"{tag} {region} {c:02d}", start=start, weeks=weeks, members=tuple(members),
            timezone=leads[0].timezone, max_sections=max_sections,
            min_section_size=min(size, rng.randint(1, 8)), blackout=blackout,
        ))
    return tuple(out)


# ---------------------------------------------------------------------------------------------- the family

TIERS = (  # (name, cohorts, learners per cohort, time limit)
    ("one", (1, 1), (5, 40), 2.0),
    ("few", (2, 6), (5, 60), 5.0),
    ("ten", (7, 15), (10, 40), 10.0),
    ("many", (16, 60), (20, 35), 60.0),
)


def problem_for(seed: int) -> Generated:
    """Problem `seed` of the family; tiers rotate with the seed so any 4 consecutive seeds cover all sizes."""
    rng = random.Random(f"cadence-family-{seed}")
    tier, cohorts, learners, limit = TIERS[seed % len(TIERS)]
    units = rng.randint(5, 30)
    live = rng.randint(1, min(10, units - 1))
    either = rng.randint(0, min(4, units - live - 1))
    live_minutes = rng.choice((45, 60, 60, 75, 90, 120))
    program = _program(rng, units, live, either, live_minutes)
    weeks = _weeks_needed(program, rng.randint(3, 10))
    count = rng.randint(*cohorts)
    made = _cohorts(rng, program, count, learners, (1, 4), (2, 8), (1, 3), weeks, f"g{seed}")
    shape = (f"{units} units ({live} live, {either} either), {live_minutes}-min sessions, {weeks} wk, "
             f"{count} cohorts")
    return Generated(f"gen-{seed:03d}-{tier}", Problem(program, made), limit, shape)


def rollout(cohorts: int, learners: int, facilitators_per_cohort: tuple[int, int], limit: float, seed: int) -> Generated:
    """A support-onboarding rollout as in the issue: 20-24 units, 6-8 live of 60-90 min, 4 `either`."""
    rng = random.Random(f"cadence-rollout-{seed}")
    units = rng.randint(20, 24)
    program = _program(rng, units, rng.randint(6, 8), 4, rng.choice((60, 90)), live_unit_minutes=(60, 90))
    weeks = _weeks_needed(program, rng.randint(6, 10))
    per = max(20, min(40, learners // cohorts))
    made = _cohorts(rng, program, cohorts, (per - 5, per + 5), facilitators_per_cohort, (2, 8), (2, 3), weeks,
                    f"r{cohorts}")
    made = tuple(c.__class__(**{**c.__dict__, "min_section_size": min(len(c.learners), rng.randint(5, 8))})
                 for c in made)
    shape = f"rollout: {units} units, {weeks} wk, {cohorts} cohorts"
    return Generated(f"rollout-{cohorts:02d}", Problem(program, made), limit, shape)


ROLLOUT = {
    "rollout-01": lambda: rollout(1, 27, (1, 2), 10.0, 1),
    "rollout-03": lambda: rollout(3, 80, (1, 2), 10.0, 3),
    "rollout-10": lambda: rollout(10, 300, (1, 3), 10.0, 10),
    "rollout-10-60s": lambda: rollout(10, 300, (1, 3), 60.0, 10),
    "rollout-50": lambda: rollout(50, 1500, (2, 3), 60.0, 50),
}
