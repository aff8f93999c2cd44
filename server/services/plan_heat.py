"""A plan's coverage heat map: one program week of a cohort in 30-minute cells of the UTC grid, each with how
many learners a session starting there would find inside their working hours, in any zone; the chosen
sessions on top, a table alternative (stretches) and a row per learner. The week and its sessions as
blocks: services/plan_views.py.

Every count comes from `planner.coverage.inside_hours` / `minutes_outside` on the actual date, over the
planner's own learner profiles (`planner.slots.profiles`): the heat map counts exactly what the planner's
coverage counts for the same instants (tests/test_plan_views.py checks it, DST weeks included).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from planner import plan as pl
from planner import problem as p
from planner.coverage import day_window, inside_hours, local_midnight, minutes_outside, zone
from planner.loading import days_text
from planner.slots import GRID_MINUTES, profiles
from server.services.labels import section_label
from server.services.plan_views import (
    CELL,
    Block,
    Day,
    Week,
    clock_text,
    minute_of_day,
    row_labels,
    row_span,
    session_block,
    shade_of,
)


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
        return shade_of(self.share)


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

    used = [minute_of_day(t, zone_name) for t, n in zip(instants, counts, strict=True) if n]
    used += [minute_of_day(t, zone_name) for t in covering]
    first, last = row_span(used)
    rows = row_labels(first, last)
    grid: list[list[list[Cell]]] = [[[] for _ in week.days] for _ in rows]
    for instant, inside in zip(instants, counts, strict=True):
        minute = minute_of_day(instant, zone_name)
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
        learner_rows=_learnerrow_span(cohort, week, blocks, learners_of, people),
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


def _learnerrow_span(cohort: p.Cohort, week: Week, blocks: list[Block], learners_of: dict[str, tuple[str, ...]],
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
                text = f"{clock_text(window[0], week.zone_name)[:5]}–{clock_text(window[1], week.zone_name)}"
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
