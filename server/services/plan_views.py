"""A plan to look at: one program week of a cohort as a week calendar (sessions as blocks) and as a coverage
heat map (30-minute cells: how many learners a session starting there would find inside their working hours),
in any zone. The figures that compare plans (variants) side by side: services/plan_comparison.py.

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
from planner.loading import days_text
from planner.slots import GRID_MINUTES, profiles
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


def _clock(instant: datetime, zone_name: str) -> str:
    local = instant.astimezone(zone(zone_name))
    return f"{local:%H:%M} {local.tzname()}"


def _minute_of_day(instant: datetime, zone_name: str) -> int:
    local = instant.astimezone(zone(zone_name))
    return local.hour * 60 + local.minute


def _shade(share: float) -> int:
    return min(SHADES - 1, int(share * (SHADES - 1) + 0.5)) if share > 0 else 0


def _rows(minutes: list[int], default: tuple[int, int] = (8 * 60, 18 * 60)) -> tuple[int, int]:
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
        return _shade(self.share)


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
    used = [_minute_of_day(s.start, zone_name) for s in sessions]
    used += [min(DAY_MINUTES - 1, _minute_of_day(s.start, zone_name) + _length(s) - 1) for s in sessions]
    first, last = _rows(used)
    blocks = []
    for session in sessions:
        start = _minute_of_day(session.start, zone_name)
        span = max(1, min(-(-_length(session) // GRID_MINUTES), (last - start) // GRID_MINUTES))
        block = session_block(session, learners_of.get(session.section, ()), people, titles)
        blocks.append(_with(block, column=week.column(session.start), row=(start - first) // GRID_MINUTES,
                            span=span))
    return WeekCalendar(week, row_labels(first, last), first, tuple(_lanes(blocks)))


def _length(session: pl.Session) -> int:
    return int((session.end - session.start).total_seconds() // 60)


# -------------------------------------------------------------------------------------------- heat map


@dataclass(frozen=True)
class Cell:
    start: datetime  # UTC
    inside: int  # learners inside their hours for a session of `minutes` starting here
    share: float
    title: str  # the cell in words (hover)
    session: str = ""  # label of a chosen session that covers this cell
    starts: bool = False  # a chosen session starts here

    @property
    def shade(self) -> int:
        return _shade(self.share)


@dataclass(frozen=True)
class Stretch:
    """Consecutive cells of a day with the same count: the heat map as text, for the table alternative."""

    start: datetime
    end: datetime
    inside: int


@dataclass(frozen=True)
class LearnerRow:
    name: str
    zone_name: str
    hours: str  # their working hours in their own zone, "09:00–17:00 Mon–Fri"
    here: str  # their working windows this week in the display zone
    inside: int  # sessions of their section this week inside their hours
    sessions: int
    minutes_outside: int
    section: str


@dataclass(frozen=True)
class HeatMap:
    week: Week
    minutes: int  # the session length the counts are for
    learners: int
    rows: tuple[str, ...]
    first_minute: int
    grid: tuple[tuple[tuple[Cell, ...], ...], ...]  # row -> day column -> the cells there (0, 1 or 2: DST)
    blocks: tuple[Block, ...]
    stretches: tuple[tuple[Day, tuple[Stretch, ...]], ...]
    learner_rows: tuple[LearnerRow, ...]
    best: int  # the most learners any cell reaches


def cell_counts(cohort: p.Cohort, instants: list[datetime], minutes: int) -> list[int]:
    """For each instant, how many of the cohort's learners a session of `minutes` starting then finds inside
    their working hours: the planner's profiles (learners sharing zone and hours) and its `inside_hours`."""
    length = timedelta(minutes=minutes)
    groups = profiles(cohort)
    return [sum(g.size for g in groups if inside_hours(g.person, t, t + length)) for t in instants]


def heat_map(cohort: p.Cohort, cohort_plan: pl.CohortPlan | None, week: Week, minutes: int,
             people: dict[str, p.Person], titles: dict[str, str]) -> HeatMap:
    """The week in 30-minute cells of the UTC grid, placed by their wall-clock time in the display zone, each
    with the number of learners inside their hours for a session of `minutes` starting there; the chosen
    sessions on top."""
    zone_name = week.zone_name
    instants = []
    t = week.first
    while t < week.last:
        instants.append(t)
        t += CELL
    counts = cell_counts(cohort, instants, minutes)
    total = len(cohort.learners)
    sessions = [s for s in (cohort_plan.sessions if cohort_plan else ()) if week.first <= s.start < week.last]
    learners_of = {s.id: s.learners for s in cohort_plan.sections} if cohort_plan else {}
    blocks = [session_block(s, learners_of.get(s.section, ()), people, titles) for s in sessions]
    covering: dict[datetime, Block] = {}
    for block in blocks:
        t = block.session.start
        while t < block.session.end:
            covering.setdefault(t, block)
            t += CELL

    used = [_minute_of_day(t, zone_name) for t, n in zip(instants, counts, strict=True) if n]
    used += [_minute_of_day(t, zone_name) for t in covering]
    first, last = _rows(used)
    rows = row_labels(first, last)
    grid: list[list[list[Cell]]] = [[[] for _ in week.days] for _ in rows]
    for instant, inside in zip(instants, counts, strict=True):
        minute = _minute_of_day(instant, zone_name)
        if not first <= minute < last:
            continue
        block = covering.get(instant)
        local = instant.astimezone(zone(zone_name))
        words = (f"{local:%a} {local.day} {local:%b} {local:%H:%M} {local.tzname()} ({instant:%H:%M} UTC): "
                 f"{inside} of {total} learners inside their hours for a {minutes}-min session starting here")
        if block:
            words += f"; chosen: {block.label} (section {block.section})"
        grid[(minute - first) // GRID_MINUTES][week.column(instant)].append(Cell(
            start=instant, inside=inside, share=inside / total if total else 0.0, title=words,
            session=block.label if block else "", starts=bool(block) and block.session.start == instant))
    return HeatMap(
        week=week, minutes=minutes, learners=total, rows=rows, first_minute=first,
        grid=tuple(tuple(tuple(cells) for cells in row) for row in grid),
        blocks=tuple(blocks), stretches=_stretches(week, instants, counts),
        learner_rows=_learner_rows(cohort, week, blocks, learners_of, people),
        best=max(counts, default=0),
    )


def _stretches(week: Week, instants: list[datetime], counts: list[int]) -> tuple:
    by_day: dict[int, list[Stretch]] = defaultdict(list)
    for instant, inside in zip(instants, counts, strict=True):
        column = week.column(instant)
        runs = by_day[column]
        if runs and runs[-1].inside == inside and runs[-1].end == instant:
            runs[-1] = Stretch(runs[-1].start, instant + CELL, inside)
        else:
            runs.append(Stretch(instant, instant + CELL, inside))
    return tuple((day, tuple(r for r in by_day[i] if r.inside)) for i, day in enumerate(week.days))


def hours_text(hours: p.WorkingHours) -> str:
    return f"{hours.start:%H:%M}–{hours.end:%H:%M} {days_text(hours.days).replace(',', ', ')}"


def _learner_rows(cohort: p.Cohort, week: Week, blocks: list[Block], learners_of: dict[str, tuple[str, ...]],
                  people: dict[str, p.Person]) -> tuple[LearnerRow, ...]:
    section_of = {email: sid for sid, emails in learners_of.items() for email in emails}
    rows = []
    for member in cohort.learners:
        person = member.person
        windows: dict[str, list[str]] = defaultdict(list)  # "14:00–22:00 GMT" -> its days
        tz = zone(person.timezone)
        day = week.first.astimezone(tz).date()
        while local_midnight(day, person.timezone) < week.last:
            window = day_window(person.timezone, person.hours, day)
            if window and window[1] > week.first and window[0] < week.last:
                start = window[0].astimezone(zone(week.zone_name))
                text = f"{_clock(window[0], week.zone_name)[:5]}–{_clock(window[1], week.zone_name)}"
                windows[text].append(f"{start:%a}")
            day += timedelta(days=1)
        mine = [b for b in blocks if b.session.section == section_of.get(person.email)]
        rows.append(LearnerRow(
            name=person.name, zone_name=person.timezone, hours=hours_text(person.hours),
            here="; ".join(f"{', '.join(days)} {text}" for text, days in windows.items()) or "not working this week",
            inside=sum(1 for b in mine if inside_hours(person, b.session.start, b.session.end)),
            sessions=len(mine),
            minutes_outside=sum(minutes_outside(person, b.session.start, b.session.end) for b in mine),
            section=section_label(section_of[person.email]) if person.email in section_of else "–",
        ))
    return tuple(sorted(rows, key=lambda r: (r.section, r.name.casefold())))
