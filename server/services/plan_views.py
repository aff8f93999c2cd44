"""A plan to look at: one program week of a cohort as a week calendar (sessions as blocks), in any zone. Its
coverage heat map: services/plan_heat.py; the figures that compare plans (variants) side by side:
services/plan_comparison.py.

Every number about working hours comes from `planner.coverage.inside_hours` / `minutes_outside`, evaluated
on the actual date, over the planner's own learner profiles (`planner.slots.profiles`): the heat map counts
exactly what the planner's coverage counts for the same instants (tests/test_plan_views.py checks it, DST
weeks included). Nothing here queries the database: the front door loads the plan, people and titles once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from planner import plan as pl
from planner import problem as p
from planner.coverage import day_window, inside_hours, local_midnight, minutes_outside, program_week, zone  # noqa: F401
from planner.slots import GRID_MINUTES
from server.services.labels import plan_session_label, section_label

# program_week is not used here but named through this module: the pages open on a plan's first program week

CELL = timedelta(minutes=GRID_MINUTES)
SHADES = 5  # heat classes 0..4
DAY_MINUTES = 24 * 60


# ------------------------------------------------------------------------------------------------ the week


@dataclass(frozen=True)
class Day:
    """A column: one local date of the week in the display zone."""

    date: date
    label: str  # "Mon 8 Mar"
    clock_change: str = ""  # "clocks go forward (GMT → BST)" when the display zone changes offset that day


@dataclass(frozen=True)
class Week:
    """Program week `number` of a cohort ([first, last) between home-zone midnights) seen in `zone_name`."""

    number: int
    weeks: int
    first: datetime
    last: datetime
    zone_name: str
    days: tuple[Day, ...]
    changes: tuple[str, ...]  # every zone of the cohort (and the display zone) that changes offset this week

    def column(self, instant: datetime) -> int:
        return (instant.astimezone(zone(self.zone_name)).date() - self.days[0].date).days


def week_of(cohort: p.Cohort, number: int, zone_name: str, zones: set[str] = frozenset()) -> Week:
    """The program week: its UTC bounds, its local dates in `zone_name`, and the clock changes in it."""
    first = local_midnight(cohort.start + timedelta(days=7 * (number - 1)), cohort.timezone)
    last = local_midnight(cohort.start + timedelta(days=7 * number), cohort.timezone)
    tz = zone(zone_name)
    day, final = first.astimezone(tz).date(), (last - timedelta(microseconds=1)).astimezone(tz).date()
    days = []
    while day <= final:
        change = offset_change(zone_name, local_midnight(day, zone_name),
                               local_midnight(day + timedelta(days=1), zone_name))
        days.append(Day(day, f"{day:%a} {day.day} {day:%b}", change))
        day += timedelta(days=1)
    changes = []
    for name in sorted(set(zones) | {zone_name, cohort.timezone}):
        change = offset_change(name, first, last)
        if change:
            changes.append(f"{name}: {change}")
    return Week(number, cohort.weeks, first, last, zone_name, tuple(days), tuple(changes))


def offset_change(zone_name: str, start: datetime, end: datetime) -> str:
    """"clocks go forward on Sun 14 Mar (EST → EDT)" when the zone's offset differs between start and end."""
    tz = zone(zone_name)
    before, after = start.astimezone(tz), (end - timedelta(microseconds=1)).astimezone(tz)
    if before.utcoffset() == after.utcoffset():
        return ""
    lo, hi = start, end  # find the instant of the change (to the minute) to name its local date
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == before.utcoffset():
            lo = mid
        else:
            hi = mid
    at = hi.astimezone(tz)
    direction = "forward" if after.utcoffset() > before.utcoffset() else "back"
    return f"clocks go {direction} on {at:%a} {at.day} {at:%b} ({before.tzname()} → {after.tzname()})"


def weeks_with_changes(cohort: p.Cohort, zones: set[str]) -> set[int]:
    """Program weeks in which some zone of the cohort changes its offset (a DST week)."""
    found = set()
    for number in range(1, cohort.weeks + 1):
        first = local_midnight(cohort.start + timedelta(days=7 * (number - 1)), cohort.timezone)
        last = local_midnight(cohort.start + timedelta(days=7 * number), cohort.timezone)
        if any(offset_change(name, first, last) for name in set(zones) | {cohort.timezone}):
            found.add(number)
    return found


def clock_text(instant: datetime, zone_name: str) -> str:
    local = instant.astimezone(zone(zone_name))
    return f"{local:%H:%M} {local.tzname()}"


def minute_of_day(instant: datetime, zone_name: str) -> int:
    local = instant.astimezone(zone(zone_name))
    return local.hour * 60 + local.minute


def shade_of(share: float) -> int:
    return min(SHADES - 1, int(share * (SHADES - 1) + 0.5)) if share > 0 else 0


def row_span(minutes: list[int], default: tuple[int, int] = (8 * 60, 18 * 60)) -> tuple[int, int]:
    """[first, last) minute of the day the grid shows: what is used, an hour either side, whole hours."""
    if not minutes:
        return default
    first = max(0, (min(minutes) // 60 - 1) * 60)
    last = min(DAY_MINUTES, (max(minutes) // 60 + 2) * 60)
    return first, last


def row_labels(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(first, last, GRID_MINUTES))


# ------------------------------------------------------------------------------------------- the sessions


@dataclass(frozen=True)
class Outside:
    name: str
    minutes: int
    local: str  # the session's start in the learner's zone


@dataclass(frozen=True)
class Block:
    """A session as the calendar and the heat map draw it."""

    session: pl.Session
    label: str  # its units' titles
    section: str  # "A"
    facilitator: str  # name
    facilitator_zone: str
    learners: int
    inside: int
    outside: tuple[Outside, ...]
    column: int = 0
    row: int = 0  # 0-based half-hour row from the grid's first row
    span: int = 1
    lane: int = 0
    lanes: int = 1

    @property
    def share(self) -> float:
        return self.inside / self.learners if self.learners else 1.0

    @property
    def shade(self) -> int:
        return shade_of(self.share)


def session_block(session: pl.Session, learners: tuple[str, ...], people: dict[str, p.Person],
                  titles: dict[str, str]) -> Block:
    """The session with its label, facilitator and who of its section is inside their hours (and by how much
    not)."""
    lead = people.get(session.facilitator)
    inside, outside = 0, []
    for email in learners:
        person = people.get(email)
        if person is None:
            continue
        minutes = minutes_outside(person, session.start, session.end)
        if inside_hours(person, session.start, session.end):
            inside += 1
        else:
            local = session.start.astimezone(zone(person.timezone))
            outside.append(Outside(person.name, minutes, f"{local:%a} {local:%H:%M} {local.tzname()}"))
    return Block(session=session, label=plan_session_label((u.unit for u in session.units), titles),
                 section=section_label(session.section), facilitator=lead.name if lead else session.facilitator,
                 facilitator_zone=lead.timezone if lead else "UTC",
                 learners=sum(1 for e in learners if e in people), inside=inside,
                 outside=tuple(sorted(outside, key=lambda o: (-o.minutes, o.name))))


def _lanes(blocks: list[Block]) -> list[Block]:
    """Sessions that overlap on the same day sit side by side (a lane each) instead of on top of each other."""
    placed: list[Block] = []
    by_column: dict[int, list[Block]] = defaultdict(list)
    for block in blocks:
        by_column[block.column].append(block)
    for column_blocks in by_column.values():
        column_blocks.sort(key=lambda b: (b.row, b.session.section))
        lane_ends: list[int] = []
        lane_of = []
        for block in column_blocks:
            lane = next((i for i, end in enumerate(lane_ends) if end <= block.row), None)
            if lane is None:
                lane_ends.append(0)
                lane = len(lane_ends) - 1
            lane_ends[lane] = block.row + block.span
            lane_of.append(lane)
        lanes = max(1, len(lane_ends))
        placed += [_with(b, lane=lane, lanes=lanes) for b, lane in zip(column_blocks, lane_of, strict=True)]
    return sorted(placed, key=lambda b: (b.session.start, b.session.section))


def _with(block: Block, **changes) -> Block:
    return replace(block, **changes)


# ------------------------------------------------------------------------------------------ week calendar


@dataclass(frozen=True)
class WeekCalendar:
    week: Week
    rows: tuple[str, ...]  # half-hour labels in the display zone
    first_minute: int
    blocks: tuple[Block, ...]


def week_calendar(cohort_plan: pl.CohortPlan, week: Week, people: dict[str, p.Person],
                  titles: dict[str, str]) -> WeekCalendar:
    """The week's sessions as blocks on a grid of local days × half hours in the week's display zone."""
    learners_of = {s.id: s.learners for s in cohort_plan.sections}
    sessions = [s for s in cohort_plan.sessions if week.first <= s.start < week.last]
    zone_name = week.zone_name
    used = [minute_of_day(s.start, zone_name) for s in sessions]
    used += [min(DAY_MINUTES - 1, minute_of_day(s.start, zone_name) + _length(s) - 1) for s in sessions]
    first, last = row_span(used)
    blocks = []
    for session in sessions:
        start = minute_of_day(session.start, zone_name)
        span = max(1, min(-(-_length(session) // GRID_MINUTES), (last - start) // GRID_MINUTES))
        block = session_block(session, learners_of.get(session.section, ()), people, titles)
        blocks.append(_with(block, column=week.column(session.start), row=(start - first) // GRID_MINUTES,
                            span=span))
    return WeekCalendar(week, row_labels(first, last), first, tuple(_lanes(blocks)))


def _length(session: pl.Session) -> int:
    return int((session.end - session.start).total_seconds() // 60)
