"""What the model chooses from, computed before any solver runs.

- how each cohort's live units are packed into sessions (and which `either` units go live),
- how async units split into modules,
- in which program week each session sits,
- the candidate start times of each session and who may facilitate at each,
- learner *profiles* (learners with identical zone and hours), and which profile is inside at which slot.

Everything is sorted and built from tuples, so the model built from it is the same on every run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from planner.coverage import (
    cohort_window,
    day_window,
    inside_hours,
    local_midnight,
    touches_blackout,
    zone,
)
from planner.plan import Portion
from planner.problem import Busy, Cohort, Mode, Person, Problem, Program, Unit, WorkingHours

GRID_MINUTES = 30  # candidate session starts lie on this UTC grid, shared by all cohorts of a run
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DUE_TIME = time(23, 59)  # modules fall due at the end of a day in the cohort's home zone


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "cohort"


def span_of(program: Program) -> int:
    """Grid points one session covers: a 45-minute session at :00 also blocks the :30 start."""
    return math.ceil(program.live_minutes / GRID_MINUTES)


def grid_index(instant: datetime) -> int:
    return int((instant - EPOCH).total_seconds() // 60) // GRID_MINUTES


def grid_instant(index: int) -> datetime:
    return EPOCH + timedelta(minutes=index * GRID_MINUTES)


# ---------------------------------------------------------------- units: live packing and async modules


def topological_units(program: Program) -> tuple[Unit, ...]:
    """Units in a prerequisite-respecting order; ties keep the program's own order."""
    done: list[Unit] = []
    placed: set[str] = set()
    pending = list(program.units)
    while pending:
        for unit in pending:
            if all(r in placed for r in unit.requires):
                done.append(unit)
                placed.add(unit.id)
                pending.remove(unit)
                break
        else:  # a cycle: the loader refuses these, keep going rather than loop forever
            done.extend(pending)
            break
    return tuple(done)


@dataclass(frozen=True)
class Packing:
    """How a cohort's live content is laid into sessions; the same for every section of the cohort."""

    live: tuple[str, ...]  # live unit ids (incl. `either` units chosen live), in teaching order
    asynchronous: tuple[str, ...]  # async unit ids (incl. `either` units chosen async), topological order
    sessions: tuple[tuple[Portion, ...], ...]  # portions of session k, in teaching order

    def first_session(self, unit_id: str) -> int:
        return next(k for k, portions in enumerate(self.sessions) if any(p.unit == unit_id for p in portions))

    def last_session(self, unit_id: str) -> int:
        return max(k for k, portions in enumerate(self.sessions) if any(p.unit == unit_id for p in portions))


def _pack(program: Program, live: set[str]) -> tuple[tuple[Portion, ...], ...]:
    """Lay live units end to end in topological order, splitting across sessions where a session fills up.

    A live unit that (through async units) needs a live unit taught earlier starts in a session after that
    unit's last one, so the async work in between can be released, done and fall due in time.
    """
    order = topological_units(program)
    length = program.live_minutes
    sessions: list[list[Portion]] = []
    used = 0  # minutes used in the last session
    last_session: dict[str, int] = {}
    by_id = {u.id: u for u in program.units}

    def live_ancestors_via_async(unit: Unit) -> set[str]:
        found: set[str] = set()
        stack = [(r, False) for r in unit.requires]
        while stack:
            uid, through_async = stack.pop()
            if uid in live:
                if through_async:
                    found.add(uid)
                continue
            stack.extend((r, True) for r in by_id[uid].requires)
        return found

    for unit in order:
        if unit.id not in live:
            continue
        earliest = max((last_session[a] + 1 for a in live_ancestors_via_async(unit)), default=0)
        if not sessions or used == length:
            sessions.append([])
            used = 0
        while len(sessions) - 1 < earliest:
            sessions.append([])
            used = 0
        left = unit.minutes
        while left > 0:
            if used == length:
                sessions.append([])
                used = 0
            take = min(left, length - used)
            sessions[-1].append(Portion(unit.id, take))
            used += take
            left -= take
        last_session[unit.id] = len(sessions) - 1
    return tuple(tuple(s) for s in sessions if s)


def pack_units(program: Program, weeks: int) -> Packing:
    """Live units into sessions. An `either` unit goes live when it fits in minutes the live sessions leave
    idle (no extra session), in topological order; otherwise it stays async — unless the async work would
    not fit under the weekly cap, in which case `either` units go live (topological order) until it does."""
    order = topological_units(program)
    live = {u.id for u in order if u.mode is Mode.LIVE}
    base = len(_pack(program, live)) if live else 0
    for unit in order:
        if unit.mode is Mode.EITHER and live:
            trial = live | {unit.id}
            if len(_pack(program, trial)) <= base:
                live = trial
    async_minutes = sum(u.minutes for u in order if u.id not in live)
    for unit in order:
        if async_minutes <= weeks * program.weekly_async_minutes:
            break
        if unit.mode is Mode.EITHER and unit.id not in live:
            live.add(unit.id)
            async_minutes -= unit.minutes
    sessions = _pack(program, live) if live else ()
    return Packing(
        live=tuple(u.id for u in order if u.id in live),
        asynchronous=tuple(u.id for u in order if u.id not in live),
        sessions=sessions,
    )


@dataclass(frozen=True)
class ModuleSpec:
    id: str
    unit: str
    minutes: int


def split_modules(program: Program, cohort_slug: str, unit: Unit) -> tuple[ModuleSpec, ...]:
    """`ceil(minutes / module_max_minutes)` modules of the largest allowed size, the remainder last."""
    size = program.module_max_minutes
    count = math.ceil(unit.minutes / size)
    specs = []
    for i in range(count):
        minutes = min(size, unit.minutes - i * size)
        specs.append(ModuleSpec(f"{cohort_slug}:{unit.id}-{i + 1}", unit.id, minutes))
    return tuple(specs)


def prework_of(program: Program, packing: Packing, modules: tuple[ModuleSpec, ...], k: int) -> tuple[str, ...]:
    """A session's prework: the modules of the async units that the units it covers directly require."""
    covered = [p.unit for p in packing.sessions[k]]
    needed = {r for u in covered for r in program.unit(u).requires if r in packing.asynchronous}
    return tuple(sorted(m.id for m in modules if m.unit in needed))


# ---------------------------------------------------------------- weeks, slots, profiles


def session_weeks(sessions: int, weeks: int) -> tuple[int, ...]:
    """The steady-rhythm rule: session k of n sits in program week 1 + k·weeks // n (spread evenly)."""
    return tuple(1 + (k * weeks) // sessions for k in range(sessions))


def week_ranges(sessions: int, weeks: int, per_week: int, narrow: bool) -> tuple[tuple[int, int], ...]:
    """Allowed program weeks of each session: the spread rule (narrow), or every week that still leaves room
    for the sessions before and after it (wide, used when the narrow model has no solution)."""
    if narrow:
        return tuple((w, w) for w in session_weeks(sessions, weeks))
    return tuple((1 + k // per_week, weeks - (sessions - 1 - k) // per_week) for k in range(sessions))


def due_instant(cohort: Cohort, day: int) -> datetime:
    """Modules due on program day `day` (0-based) fall due at 23:59 that day in the home zone."""
    return _due(cohort.timezone, cohort.start, day)


@lru_cache(maxsize=65_536)
def _due(zone_name: str, first: date, day: int) -> datetime:
    local = datetime.combine(first + timedelta(days=day), DUE_TIME, tzinfo=zone(zone_name))
    return local.astimezone(UTC)


def program_day(cohort: Cohort, instant: datetime) -> int:
    return (instant.astimezone(zone(cohort.timezone)).date() - cohort.start).days


@dataclass(frozen=True)
class Slot:
    """A candidate start for a session of one cohort."""

    index: int  # position on the run's UTC grid
    start: datetime
    end: datetime
    week: int  # program week of the start
    day: int  # program day (0-based, home zone) of the start
    end_day: int  # program day of the end
    latest_due_day: int  # last program day whose due time is at least the prework lead before the start
    time_of_week: int  # home-zone weekday·48 + half-hour of the start: equal values = same weekly time
    facilitators: tuple[str, ...]  # emails of cohort facilitators free and inside hours for the whole session
    minutes: int = 0  # the session's length
    on_grid: bool = True  # starts on the run's UTC grid (a published session may not)


def cohort_slots(problem: Problem, cohort: Cohort) -> tuple[Slot, ...]:
    """Every grid start inside the cohort's window where some facilitator of the cohort is inside working
    hours for the whole session on a working day, free of outside commitments, off blackout dates."""
    return _cohort_slots(problem.program, problem.busy, cohort)


@lru_cache(maxsize=128)  # the pre-checks, the model and the baseline all ask for the same cohorts
def _cohort_slots(program: Program, busy: tuple[Busy, ...], cohort: Cohort) -> tuple[Slot, ...]:
    first, last = cohort_window(cohort)
    length = timedelta(minutes=program.live_minutes)
    lead = timedelta(hours=program.prework_lead_hours)
    facilitators = sorted(cohort.facilitators, key=lambda m: m.email)
    inside = {f.email: inside_starts(f.person.timezone, f.person.hours, first, last, program.live_minutes)
              for f in facilitators}
    commitments = {f.email: [(b.start, b.end) for b in busy if b.email == f.email] for f in facilitators}
    candidates = sorted(set().union(*inside.values())) if inside else []
    slots = []
    for index in candidates:
        start = grid_instant(index)
        end = start + length
        if start < first or end > last:
            continue
        free = tuple(
            f.email
            for f in facilitators
            if index in inside[f.email] and not any(b < end and start < e for b, e in commitments[f.email])
        )
        if free and not touches_blackout(cohort, start, end):
            slots.append(_slot(cohort, index, start, end, lead, free))
    return tuple(slots)


@lru_cache(maxsize=8192)
def inside_starts(zone_name: str, hours: WorkingHours, first: datetime, last: datetime, minutes: int) -> frozenset[int]:
    """Grid indices i in [first, last) whose session of `minutes` lies inside the working hours of
    (zone, hours): one range of starts per working day's window (see `coverage.day_window`)."""
    tz = zone(zone_name)
    day = first.astimezone(tz).date() - timedelta(days=1)
    final = last.astimezone(tz).date() + timedelta(days=1)
    step = GRID_MINUTES * 60
    found: set[int] = set()
    while day <= final:
        window = day_window(zone_name, hours, day)
        if window is not None:
            open_, close = window
            lo = -(-int((open_ - EPOCH).total_seconds()) // step)
            hi = int((close - EPOCH).total_seconds() - minutes * 60) // step
            found.update(range(lo, hi + 1))
        day += timedelta(days=1)
    return frozenset(found)


def _slot(cohort: Cohort, index: int, start: datetime, end: datetime, lead: timedelta, free) -> Slot:
    tz = zone(cohort.timezone)
    local = start.astimezone(tz)
    day = (local.date() - cohort.start).days
    # the last day whose 23:59 due time is at least `lead` before the start: the local date of start - lead,
    # or the day before it when that day's 23:59 is already too late
    latest = min(day, ((start - lead).astimezone(tz).date() - cohort.start).days)
    if latest >= 0 and _due(cohort.timezone, cohort.start, latest) + lead > start:
        latest -= 1
    return Slot(
        index=index,
        start=start,
        end=end,
        week=day // 7 + 1,
        day=day,
        end_day=(end.astimezone(tz).date() - cohort.start).days,
        latest_due_day=max(latest, -1),
        time_of_week=local.weekday() * 48 + local.hour * 2 + local.minute // 30,
        facilitators=free,
        minutes=int((end - start).total_seconds()) // 60,
        on_grid=start == grid_instant(index),
    )


def slot_at(problem: Problem, cohort: Cohort, start: datetime, facilitator: str) -> Slot:
    """A slot for a fixed session, whatever the current rules say about it (it has been published)."""
    end = start + timedelta(minutes=problem.program.live_minutes)
    lead = timedelta(hours=problem.program.prework_lead_hours)
    return _slot(cohort, grid_index(start), start, end, lead, (facilitator,))


@dataclass(frozen=True)
class Profile:
    """Learners of one cohort who share a zone and working hours: they are covered by the same slots."""

    key: int
    person: Person  # a representative
    learners: tuple[str, ...]  # emails, sorted
    window: tuple[datetime, datetime] = (EPOCH, EPOCH)  # the cohort's window
    _starts: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def size(self) -> int:
        return len(self.learners)

    def inside(self, slot: Slot) -> bool:
        if not slot.on_grid:  # a published session off the grid (the planner never makes one)
            return inside_hours(self.person, slot.start, slot.end)
        return slot.index in self.starts(slot.minutes)

    def starts(self, minutes: int) -> frozenset[int]:
        """The grid points where a session of `minutes` lies inside these learners' hours (see `inside`)."""
        found = self._starts.get(minutes)
        if found is None:
            found = inside_starts(self.person.timezone, self.person.hours, *self.window, minutes)
            self._starts[minutes] = found
        return found


def profiles(cohort: Cohort) -> tuple[Profile, ...]:
    groups: dict[tuple, list] = {}
    for member in cohort.learners:
        p = member.person
        hours = (p.hours.start, p.hours.end, tuple(sorted(p.hours.days)))
        groups.setdefault((p.timezone, hours), []).append(member)
    result = []
    for i, key in enumerate(sorted(groups, key=lambda k: (k[0], str(k[1])))):
        members = sorted(groups[key], key=lambda m: m.email)
        result.append(Profile(i, members[0].person, tuple(m.email for m in members), cohort_window(cohort)))
    return tuple(result)


def window_days(cohort: Cohort) -> int:
    return 7 * cohort.weeks


def day_date(cohort: Cohort, day: int) -> date:
    return cohort.start + timedelta(days=day)


def release_instant(cohort: Cohort) -> datetime:
    return local_midnight(cohort.start, cohort.timezone)
