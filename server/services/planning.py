"""Rows -> the planner's `Problem`: the program, its cohorts and people, and for a re-plan what the published
plan fixes and what time of each facilitator is not free (`busy`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from functools import lru_cache

from models.json_value import json_value
from models.tables import Absence, Cohort, LiveSession, Membership, Program, Unit, UnitRequirement
from planner import problem as p
from planner.coverage import cohort_window
from planner.loading import working_hours
from server.db import fetch, in_list
from server.errors import UserError
from server.services.clock import check_aware
from server.services.published_plan import published_plan


def planner_person(row: dict) -> p.Person:
    """A person row (email, name, timezone, work_start, work_end, work_days) as the planner's Person.

    Hours are validated wherever they are written, so a row that cannot be read is reported, not guessed."""
    try:
        hours = _working_hours(f"{row['work_start']}-{row['work_end']}", row["work_days"])
    except ValueError as error:
        raise UserError(f"{row['email']}: working hours: {error}") from None
    return p.Person(email=row["email"], name=row["name"], timezone=row["timezone"], hours=hours)


# A plan's page reads the hours of every learner on each view, and parsing "09:00-17:00" goes through strptime
# (a third of that page's time); people share a handful of texts, and WorkingHours is frozen.
_working_hours = lru_cache(maxsize=1024)(working_hours)



async def problem_from_db(cohort_ids: list[int], *, now: datetime) -> p.Problem:
    """The planning problem for these cohorts (planned together). For published cohorts, `previous` is the
    published plan and sessions that started before `now` are fixed; sessions of other published cohorts
    taken by a facilitator of this run, and their recorded absences, become `busy`."""
    check_aware(now)
    cohorts = await cohort_rows(cohort_ids)
    program_ids = {row["program"] for row in cohorts}
    if len(program_ids) != 1:
        names = ", ".join(repr(row["name"]) for row in cohorts)
        raise UserError(f"cohorts {names} belong to different programs; plan them separately")
    program = await program_from_db(program_ids.pop())

    members = await Membership.select(
        Membership.cohort,
        Membership.role,
        Membership.person.email.as_alias("email"),
        Membership.person.name.as_alias("name"),
        Membership.person.timezone.as_alias("timezone"),
        Membership.person.work_start.as_alias("work_start"),
        Membership.person.work_end.as_alias("work_end"),
        Membership.person.work_days.as_alias("work_days"),
        Membership.manager.email.as_alias("manager_email"),
    ).where(Membership.cohort.is_in(cohort_ids) & Membership.left_at.is_null()).order_by(Membership.id)
    by_cohort: dict[int, list[p.Member]] = defaultdict(list)
    for m in members:
        by_cohort[m["cohort"]].append(
            p.Member(person=planner_person(m), role=p.Role(m["role"]), manager=m["manager_email"])
        )

    planner_cohorts = tuple(
        p.Cohort(
            name=row["name"],
            start=row["start_date"],
            weeks=row["weeks"],
            members=tuple(by_cohort[row["id"]]),
            timezone=row["timezone"],
            max_sections=row["max_sections"],
            min_section_size=row["min_section_size"],
            blackout=tuple(date.fromisoformat(day) for day in json_value(row["blackout"], [])),
        )
        for row in cohorts
    )

    published_ids = [row["id"] for row in cohorts if row["status"] == Cohort.Status.published]
    previous = await published_plan(published_ids) if published_ids else None
    fixed: tuple[p.FixedSession, ...] = ()
    if published_ids:
        held = await LiveSession.select(LiveSession.cohort.name.as_alias("cohort_name"), LiveSession.key).where(
            LiveSession.cohort.is_in(published_ids)
            & (LiveSession.status == LiveSession.Status.scheduled)
            & (LiveSession.starts_at < now)
        ).order_by(LiveSession.starts_at)
        fixed = tuple(p.FixedSession(cohort=s["cohort_name"], session_id=s["key"]) for s in held)

    facilitators = sorted({m.email for c in planner_cohorts for m in c.facilitators})
    busy: tuple[p.Busy, ...] = ()
    if facilitators:
        taken = await LiveSession.select(
            LiveSession.facilitator.email.as_alias("email"),
            LiveSession.starts_at,
            LiveSession.ends_at,
            LiveSession.cohort.name.as_alias("cohort_name"),
        ).where(
            LiveSession.cohort.not_in(cohort_ids)
            & (LiveSession.cohort.status == Cohort.Status.published)
            & (LiveSession.status == LiveSession.Status.scheduled)
            & LiveSession.facilitator.email.is_in(facilitators)
        ).order_by(LiveSession.starts_at)
        busy = tuple(
            p.Busy(email=s["email"], start=s["starts_at"], end=s["ends_at"], reason=f"a session of {s['cohort_name']}")
            for s in taken
        )
        busy += await absences_as_busy(facilitators, planner_cohorts, now=now)
        busy += past_as_busy(facilitators, planner_cohorts, previous, fixed, now=now)
    return p.Problem(program=program, cohorts=planner_cohorts, previous=previous, fixed=fixed, busy=busy)


async def absences_as_busy(
    emails: list[str], cohorts: tuple[p.Cohort, ...], *, now: datetime
) -> tuple[p.Busy, ...]:
    """Absences of these people that overlap any of the cohorts' windows, as busy intervals ("away: note").

    Only the part from `now` on counts: sessions already held stay fixed, so an absence recorded after the
    fact must not make them look like a conflict."""
    windows = [cohort_window(c) for c in cohorts]
    start, end = max(min(w[0] for w in windows), now), max(w[1] for w in windows)
    rows = await Absence.select(
        Absence.person.email.as_alias("email"), Absence.starts_at, Absence.ends_at, Absence.note
    ).where(
        Absence.person.email.is_in(list(emails)) & (Absence.starts_at < end) & (Absence.ends_at > start)
    ).order_by(Absence.starts_at, Absence.id)
    return tuple(
        p.Busy(email=row["email"], start=max(row["starts_at"], now), end=row["ends_at"],
               reason=f"away: {row['note']}" if row["note"] else "away")
        for row in rows
        if any(row["starts_at"] < w_end and row["ends_at"] > w_start for w_start, w_end in windows)
    )


def past_as_busy(
    emails: list[str],
    cohorts: tuple[p.Cohort, ...],
    previous: p.Plan | None,
    fixed: tuple[p.FixedSession, ...],
    *,
    now: datetime,
) -> tuple[p.Busy, ...]:
    """Time that has already passed, as busy intervals for every facilitator of the run ("already past").

    The planner has no clock; without this a re-plan could move a session that has not been held yet to a
    slot earlier today or this week. The gaps leave out each facilitator's own fixed (held) sessions, which
    keep their place."""
    start = min(cohort_window(c)[0] for c in cohorts)
    if now <= start:
        return ()
    held: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    if previous is not None:
        keys = {(f.cohort, f.session_id) for f in fixed}
        for cohort in previous.cohorts:
            for session in cohort.sessions:
                if (cohort.name, session.id) in keys:
                    held[session.facilitator].append((session.start, session.end))
    busy = []
    for email in emails:
        cursor = start
        for begin, end in sorted(held[email]):
            if begin > cursor:
                busy.append(p.Busy(email=email, start=cursor, end=min(begin, now), reason="already past"))
            cursor = max(cursor, end)
        if cursor < now:
            busy.append(p.Busy(email=email, start=cursor, end=now, reason="already past"))
    return tuple(b for b in busy if b.start < b.end)


async def cohort_rows(cohort_ids: list[int]) -> list[dict]:
    """The cohort rows, by id; a UserError naming the first id that does not exist."""
    if not cohort_ids:
        raise UserError("choose at least one cohort")
    rows = await Cohort.select().where(Cohort.id.is_in(list(cohort_ids))).order_by(Cohort.id)
    missing = sorted(set(cohort_ids) - {row["id"] for row in rows})
    if missing:
        raise UserError(f"no cohort with id {missing[0]}")
    return rows


async def program_from_db(program_id: int) -> p.Program:
    """The program row and its units (in order, with their prerequisites) as the planner's Program."""
    row = await Program.select().where(Program.id == program_id).first()
    units = await Unit.select().where(Unit.program == program_id).order_by(Unit.position, Unit.id)
    slug_of = {u["id"]: u["slug"] for u in units}
    requires: dict[str, list[str]] = defaultdict(list)
    if units:
        for r in await UnitRequirement.select().where(UnitRequirement.unit.is_in(list(slug_of))).order_by(
            UnitRequirement.id
        ):
            requires[slug_of[r["unit"]]].append(slug_of[r["requires"]])
    return p.Program(
        name=row["name"],
        id=row["slug"],
        purpose=row["purpose"] or "",
        units=tuple(
            p.Unit(id=u["slug"], title=u["title"], minutes=u["minutes"], mode=p.Mode(u["mode"]),
                   requires=tuple(requires[u["slug"]]))
            for u in units
        ),
        live_minutes=row["live_minutes"],
        module_max_minutes=row["module_max_minutes"],
        weekly_async_minutes=row["weekly_async_minutes"],
        live_sessions_per_week=row["live_sessions_per_week"],
        prework_lead_hours=row["prework_lead_hours"],
        support=row["support"] or "",
    )



async def planner_people(emails: set[str]) -> dict[str, p.Person]:
    """The planner's Person of each email that has a row (a plan's page shows their local times)."""
    emails = sorted(emails)
    rows = await fetch("SELECT email, name, timezone, work_start, work_end, work_days FROM person"
                       f" WHERE email IN ({in_list(emails)})", *emails)
    return {row["email"]: planner_person(row) for row in rows}


async def planner_people_and_unit_titles(emails: set[str], program_id: int) -> tuple[dict[str, p.Person], dict[str, str]]:
    """`planner_people(emails)` and `labels.unit_titles(program_id)` in one query, for a plan's page, which shows
    both: the person rows and the program's unit rows under one column list (a unit's `key` is its slug, its
    `name` its title; the hour columns are null)."""
    emails = sorted(emails)
    people, titles = {}, {}
    for row in await fetch(
            "SELECT 'person' AS kind, email AS key, name, timezone, work_start, work_end, work_days FROM person"
            f" WHERE email IN ({in_list(emails)})"
            " UNION ALL SELECT 'unit', slug, title, NULL, NULL, NULL, NULL FROM unit WHERE program = {}",
            *emails, program_id):
        if row.pop("kind") == "unit":
            titles[row["key"]] = row["name"]
        else:
            row["email"] = row.pop("key")
            people[row["email"]] = planner_person(row)
    return people, titles
