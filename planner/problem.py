"""What the planner is given: a program, its cohorts and their people, as frozen dataclasses.

Nothing here knows about files, databases or the web. `planner.loading` builds these from the TOML/CSV
formats; `server` builds them from database rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

from planner.plan import Plan

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # index = date.weekday()


class Mode(StrEnum):
    ASYNC = "async"
    LIVE = "live"
    EITHER = "either"


class Role(StrEnum):
    LEARNER = "learner"
    FACILITATOR = "facilitator"
    MANAGER = "manager"


@dataclass(frozen=True)
class WorkingHours:
    """Local working hours on working days. `start < end` (no overnight shifts); days are date.weekday()."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    timezone: str  # IANA zone name, validated by the loader
    hours: WorkingHours = field(default_factory=WorkingHours)


@dataclass(frozen=True)
class Member:
    person: Person
    role: Role = Role.LEARNER
    manager: str | None = None  # manager's email, for learners

    @property
    def email(self) -> str:
        return self.person.email


@dataclass(frozen=True)
class Unit:
    id: str
    title: str
    minutes: int
    mode: Mode = Mode.EITHER
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Program:
    name: str
    id: str
    units: tuple[Unit, ...]
    live_minutes: int = 60
    module_max_minutes: int = 15
    weekly_async_minutes: int = 120
    live_sessions_per_week: int = 2
    prework_lead_hours: int = 24
    support: str = ""  # who learners contact for help: an email address or an http(s) URL ("" = none)
    purpose: str = ""  # why the program exists, in a sentence or two: the assignment email says it

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)


@dataclass(frozen=True)
class Cohort:
    name: str
    start: date  # first day of week 1, in the home zone
    weeks: int
    members: tuple[Member, ...]
    timezone: str = "UTC"
    max_sections: int = 1
    min_section_size: int = 1
    blackout: tuple[date, ...] = ()

    @property
    def learners(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role is Role.LEARNER)

    @property
    def facilitators(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role is Role.FACILITATOR)

    @property
    def managers(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role is Role.MANAGER)


@dataclass(frozen=True)
class FixedSession:
    """A session of an earlier published plan that must not move (it has been held, or is about to be)."""

    cohort: str
    session_id: str


@dataclass(frozen=True)
class Busy:
    """A facilitator is taken at [start, end) by something outside this run (another published cohort)."""

    email: str
    start: datetime  # UTC, aware
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class Problem:
    """One planning run: a program and the cohorts planned together (they share facilitators).

    For a re-plan, `previous` is the published plan; sessions listed in `fixed` keep their section, time,
    facilitator and units, and every other session is nudged to stay where it was (a small named penalty). `busy` lists facilitator
    commitments outside the run, which sessions must not overlap.
    """

    program: Program
    cohorts: tuple[Cohort, ...]
    previous: Plan | None = None
    fixed: tuple[FixedSession, ...] = ()
    busy: tuple[Busy, ...] = ()


def is_aware(instant: datetime) -> bool:
    return instant.tzinfo is not None and instant.utcoffset() is not None
