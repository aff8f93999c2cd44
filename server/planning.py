"""The glue between the planner and the database: rows -> `Problem`, `Plan` -> rows (publishing), planner runs.

Publishing never deletes a live session: a session that leaves the plan is cancelled (calendar feeds keep
showing it as cancelled), and every change to a session's time, facilitator or status bumps its iCalendar
SEQUENCE while its UID stays the same, so calendar clients update the event they already hold.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime

from models.json_value import json_value
from models.tables import (
    Absence,
    AsyncModule,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    PlannerRun,
    Program,
    Section,
    SessionPrework,
    SessionUnit,
    Unit,
    UnitRequirement,
)
from planner import plan as pl
from planner import problem as p
from planner.coverage import cohort_window
from planner.loading import working_hours
from server.db import write_transaction
from server.errors import UserError


def utc_words(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------------------
# Rows -> Problem


def planner_person(row: dict) -> p.Person:
    """A person row (email, name, timezone, work_start, work_end, work_days) as the planner's Person.

    Hours are validated wherever they are written, so a row that cannot be read is reported, not guessed."""
    try:
        hours = working_hours(f"{row['work_start']}-{row['work_end']}", row["work_days"])
    except ValueError as error:
        raise UserError(f"{row['email']}: working hours: {error}") from None
    return p.Person(email=row["email"], name=row["name"], timezone=row["timezone"], hours=hours)


async def problem_from_db(cohort_ids: list[int], *, now: datetime) -> p.Problem:
    """The planning problem for these cohorts (planned together). For published cohorts, `previous` is the
    published plan and sessions that started before `now` are fixed; sessions of other published cohorts
    taken by a facilitator of this run, and their recorded absences, become `busy`."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    cohorts = await _cohort_rows(cohort_ids)
    program_ids = {row["program"] for row in cohorts}
    if len(program_ids) != 1:
        names = ", ".join(repr(row["name"]) for row in cohorts)
        raise UserError(f"cohorts {names} belong to different programs; plan them separately")
    program = await _program(program_ids.pop())

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
    ).where(Membership.cohort.is_in(cohort_ids)).order_by(Membership.id)
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


async def _cohort_rows(cohort_ids: list[int]) -> list[dict]:
    if not cohort_ids:
        raise UserError("choose at least one cohort")
    rows = await Cohort.select().where(Cohort.id.is_in(list(cohort_ids))).order_by(Cohort.id)
    missing = sorted(set(cohort_ids) - {row["id"] for row in rows})
    if missing:
        raise UserError(f"no cohort with id {missing[0]}")
    return rows


async def _program(program_id: int) -> p.Program:
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
    )


# ---------------------------------------------------------------------------------------------------------
# Rows -> Plan


async def published_plan(cohort_ids: list[int]) -> pl.Plan | None:
    """The published plan of these cohorts, rebuilt from rows (scheduled sessions only), or None when none
    of them is published. Solver figures are not stored with the rows: status is feasible, objective 0."""
    rows = await Cohort.select().where(
        Cohort.id.is_in(list(cohort_ids) or [0]) & (Cohort.status == Cohort.Status.published)
    ).order_by(Cohort.name)
    if not rows:
        return None
    return pl.Plan(
        status=pl.Status.FEASIBLE,
        objective=0,
        bound=0,
        coverage=0.0,
        cohorts=tuple([await _cohort_plan(row) for row in rows]),
    )


async def _cohort_plan(cohort: dict) -> pl.CohortPlan:
    cohort_id = cohort["id"]
    sections = await Section.select().where(Section.cohort == cohort_id).order_by(Section.key)
    learners: dict[int, list[str]] = defaultdict(list)
    for m in await Membership.select(Membership.section, Membership.person.email.as_alias("email")).where(
        (Membership.cohort == cohort_id) & (Membership.role == Membership.Role.learner)
    ):
        if m["section"] is not None:
            learners[m["section"]].append(m["email"])
    section_key = {s["id"]: s["key"] for s in sections}

    modules = await AsyncModule.select(
        AsyncModule.id, AsyncModule.key, AsyncModule.minutes, AsyncModule.release_at, AsyncModule.due_at,
        AsyncModule.unit.slug.as_alias("unit_slug"),
    ).where(AsyncModule.cohort == cohort_id)
    module_key = {m["id"]: m["key"] for m in modules}

    sessions = await LiveSession.select(
        LiveSession.id, LiveSession.key, LiveSession.section, LiveSession.starts_at, LiveSession.ends_at,
        LiveSession.facilitator.email.as_alias("facilitator_email"),
    ).where((LiveSession.cohort == cohort_id) & (LiveSession.status == LiveSession.Status.scheduled))
    session_ids = [s["id"] for s in sessions] or [0]
    portions: dict[int, list[pl.Portion]] = defaultdict(list)
    for su in await SessionUnit.select(
        SessionUnit.session, SessionUnit.minutes, SessionUnit.unit.slug.as_alias("unit_slug")
    ).where(SessionUnit.session.is_in(session_ids)).order_by(SessionUnit.session, SessionUnit.position):
        portions[su["session"]].append(pl.Portion(su["unit_slug"], su["minutes"]))
    prework: dict[int, list[str]] = defaultdict(list)
    for sp in await SessionPrework.select().where(SessionPrework.session.is_in(session_ids)):
        prework[sp["session"]].append(module_key[sp["module"]])

    used_sections = {s["section"] for s in sessions} | set(learners)
    return pl.CohortPlan(
        name=cohort["name"],
        sections=tuple(
            pl.Section(s["key"], tuple(sorted(learners[s["id"]]))) for s in sections if s["id"] in used_sections
        ),
        sessions=tuple(
            sorted(
                (
                    pl.Session(
                        id=s["key"],
                        section=section_key[s["section"]],
                        start=s["starts_at"],
                        end=s["ends_at"],
                        facilitator=s["facilitator_email"],
                        units=tuple(portions[s["id"]]),
                        prework=tuple(sorted(prework[s["id"]])),
                    )
                    for s in sessions
                ),
                key=lambda s: (s.start, s.section),
            )
        ),
        modules=tuple(
            sorted(
                (pl.Module(m["key"], m["unit_slug"], m["minutes"], m["release_at"], m["due_at"]) for m in modules),
                key=lambda m: (m.due, m.id),
            )
        ),
    )


# ---------------------------------------------------------------------------------------------------------
# Plan -> rows


def new_uid(kind: str) -> str:
    return f"{kind}-{uuid.uuid4()}@cadence"


async def publish_plan(
    plan: pl.Plan, cohort_ids: list[int], *, now: datetime, published_by: int | None
) -> list[str]:
    """Save the plan of these cohorts (one transaction) and mark them published. Returns what changed, in
    words; on a first publish, one summary line per cohort."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    async with write_transaction():
        cohorts = await _cohort_rows(cohort_ids)
        names = {row["name"] for row in cohorts}
        planned = {c.name for c in plan.cohorts}
        if names != planned:
            raise UserError(
                "this plan is for " + ", ".join(sorted(planned)) + ", not for " + ", ".join(sorted(names))
            )
        changes: list[str] = []
        for row in cohorts:
            changes += await _publish_cohort(plan.cohort(row["name"]), row, now)
    return changes


async def _publish_cohort(cp: pl.CohortPlan, cohort: dict, now: datetime) -> list[str]:
    cohort_id, name = cohort["id"], cohort["name"]
    first = cohort["status"] != Cohort.Status.published
    changes: list[str] = []

    # People of this cohort, by email.
    members = await Membership.select(
        Membership.id, Membership.role, Membership.person.as_alias("person_id"),
        Membership.person.email.as_alias("email"),
    ).where(Membership.cohort == cohort_id)
    person_of = {m["email"]: m["person_id"] for m in members}
    facilitator_emails = sorted({s.facilitator for s in cp.sessions} - set(person_of))
    if facilitator_emails:
        for row in await Person.select(Person.id, Person.email).where(Person.email.is_in(facilitator_emails)):
            person_of[row["email"]] = row["id"]
    unknown = sorted({s.facilitator for s in cp.sessions} - set(person_of))
    if unknown:
        raise UserError(f"{name}: facilitator {unknown[0]} is not a known person")

    # Sections (kept when unused: cancelled sessions still point at theirs) and each learner's section.
    section_id = {s["key"]: s["id"] for s in await Section.select().where(Section.cohort == cohort_id)}
    for section in cp.sections:
        if section.id not in section_id:
            row = Section(cohort=cohort_id, key=section.id)
            await row.save()
            section_id[section.id] = row.id
    await Membership.update({Membership.section: None}).where(Membership.cohort == cohort_id)
    for section in cp.sections:
        learner_ids = [person_of[email] for email in section.learners if email in person_of]
        if learner_ids:
            await Membership.update({Membership.section: section_id[section.id]}).where(
                (Membership.cohort == cohort_id) & Membership.person.is_in(learner_ids)
            )

    # Units of the program, by slug.
    unit_rows = await Unit.select(Unit.id, Unit.slug, Unit.title).where(Unit.program == cohort["program"])
    unit_id = {u["slug"]: u["id"] for u in unit_rows}
    unit_title = {u["slug"]: u["title"] for u in unit_rows}
    missing_units = sorted({m.unit for m in cp.modules} | {x.unit for s in cp.sessions for x in s.units})
    missing_units = [slug for slug in missing_units if slug not in unit_id]
    if missing_units:
        raise UserError(f"{name}: unit {missing_units[0]!r} is not part of the program")

    module_id = await _publish_modules(cp, cohort_id, unit_id, unit_title, now, changes, name)
    await _publish_sessions(cp, cohort_id, section_id, person_of, unit_id, module_id, now, changes, name)

    await Cohort.update({Cohort.status: Cohort.Status.published, Cohort.published_at: now}).where(
        Cohort.id == cohort_id
    )
    if first:
        return [
            f"{name}: published {len(cp.sessions)} live sessions in {len(cp.sections)} "
            f"section{'s' if len(cp.sections) != 1 else ''} and {len(cp.modules)} modules"
        ]
    return changes or [f"{name}: nothing changed"]


async def _publish_modules(cp, cohort_id, unit_id, unit_title, now, changes, name) -> dict[str, int]:
    existing = {m["key"]: m for m in await AsyncModule.select().where(AsyncModule.cohort == cohort_id)}
    parts: dict[str, list[str]] = defaultdict(list)
    for module in sorted(cp.modules, key=lambda m: (m.release, m.id)):
        parts[module.unit].append(module.id)
    module_id: dict[str, int] = {}
    for module in cp.modules:
        siblings = parts[module.unit]
        title = unit_title[module.unit]
        if len(siblings) > 1:
            title = f"{title} (part {siblings.index(module.id) + 1} of {len(siblings)})"
        values = {
            AsyncModule.unit: unit_id[module.unit],
            AsyncModule.title: title,
            AsyncModule.minutes: module.minutes,
            AsyncModule.release_at: module.release,
            AsyncModule.due_at: module.due,
        }
        row = existing.get(module.id)
        if row is None:
            new = AsyncModule(cohort=cohort_id, key=module.id, uid=new_uid("module"), sequence=0, updated_at=now,
                              **{column._meta.name: value for column, value in values.items()})
            await new.save()
            module_id[module.id] = new.id
            changes.append(f"{name}: new module {title!r} due {utc_words(module.due)}")
            continue
        module_id[module.id] = row["id"]
        moved = row["due_at"] != module.due or row["release_at"] != module.release
        same = moved is False and (row["unit"], row["title"], row["minutes"]) == (
            unit_id[module.unit], title, module.minutes
        )
        if same:
            continue
        if moved:
            values[AsyncModule.sequence] = row["sequence"] + 1
            changes.append(
                f"{name}: module {title!r} now due {utc_words(module.due)} (was {utc_words(row['due_at'])})"
            )
        values[AsyncModule.updated_at] = now
        await AsyncModule.update(values).where(AsyncModule.id == row["id"])
    gone = [row for key, row in existing.items() if key not in module_id]
    if gone:
        gone_ids = [row["id"] for row in gone]
        kept = {c["module"] for c in await ModuleCompletion.select(ModuleCompletion.module).where(
            ModuleCompletion.module.is_in(gone_ids))}
        removable = [i for i in gone_ids if i not in kept]
        if removable:
            await AsyncModule.delete().where(AsyncModule.id.is_in(removable))
        for row in gone:
            changes.append(f"{name}: module {row['title']!r} removed" + (
                " (kept for the learners who completed it)" if row["id"] in kept else ""))
    return module_id


async def _publish_sessions(cp, cohort_id, section_id, person_of, unit_id, module_id, now, changes, name) -> None:
    existing = {s["key"]: s for s in await LiveSession.select().where(LiveSession.cohort == cohort_id)}
    facilitator_email = {v: k for k, v in person_of.items()}
    planned: set[str] = set()
    for session in cp.sessions:
        planned.add(session.id)
        facilitator = person_of[session.facilitator]
        values = {
            LiveSession.section: section_id[session.section],
            LiveSession.starts_at: session.start,
            LiveSession.ends_at: session.end,
            LiveSession.facilitator: facilitator,
        }
        row = existing.get(session.id)
        if row is None:
            new = LiveSession(cohort=cohort_id, key=session.id, uid=new_uid("session"), sequence=0,
                              status=LiveSession.Status.scheduled, updated_at=now,
                              **{column._meta.name: value for column, value in values.items()})
            await new.save()
            session_row_id = new.id
            changes.append(f"{name}: new session {session.id} on {utc_words(session.start)}")
        else:
            session_row_id = row["id"]
            words = []
            if row["status"] == LiveSession.Status.cancelled:
                words.append(f"{name}: session {session.id} is back on {utc_words(session.start)}")
            elif row["starts_at"] != session.start or row["ends_at"] != session.end:
                words.append(f"{name}: session {session.id} moved from {utc_words(row['starts_at'])} "
                             f"to {utc_words(session.start)}")
            if row["facilitator"] != facilitator and row["status"] != LiveSession.Status.cancelled:
                words.append(f"{name}: session {session.id} is now led by {session.facilitator} "
                             f"(was {facilitator_email.get(row['facilitator'], 'someone else')})")
            if words:
                values.update({
                    LiveSession.sequence: row["sequence"] + 1,
                    LiveSession.updated_at: now,
                    LiveSession.status: LiveSession.Status.scheduled,
                    LiveSession.cancelled_at: None,
                })
                changes.extend(words)
            if words or row["section"] != section_id[session.section]:
                await LiveSession.update(values).where(LiveSession.id == session_row_id)
        await _rewrite_contents(session_row_id, session, unit_id, module_id)

    for key, row in existing.items():
        if key not in planned and row["status"] == LiveSession.Status.scheduled:
            await LiveSession.update({
                LiveSession.status: LiveSession.Status.cancelled,
                LiveSession.cancelled_at: now,
                LiveSession.sequence: row["sequence"] + 1,
                LiveSession.updated_at: now,
            }).where(LiveSession.id == row["id"])
            changes.append(f"{name}: session {key} on {utc_words(row['starts_at'])} cancelled")


async def _rewrite_contents(session_row_id, session: pl.Session, unit_id, module_id) -> None:
    await SessionUnit.delete().where(SessionUnit.session == session_row_id)
    await SessionPrework.delete().where(SessionPrework.session == session_row_id)
    if session.units:
        await SessionUnit.insert(*[
            SessionUnit(session=session_row_id, unit=unit_id[portion.unit], minutes=portion.minutes, position=i)
            for i, portion in enumerate(session.units)
        ])
    prework = [module_id[m] for m in dict.fromkeys(session.prework) if m in module_id]
    if prework:
        await SessionPrework.insert(*[SessionPrework(session=session_row_id, module=m) for m in prework])


# ---------------------------------------------------------------------------------------------------------
# Planner runs


async def create_run(program_id: int, cohort_names: list[str], requested_by: int | None, time_limit: int) -> int:
    row = PlannerRun(program=program_id, cohort_names=list(cohort_names), requested_by=requested_by,
                     status=PlannerRun.Status.running, time_limit=int(time_limit), started_at=datetime.now(UTC))
    await row.save()
    return row.id


async def finish_run(
    run_id: int, plan: pl.Plan | None, reasons: list[str] | None, changes: list[str] | None = None
) -> None:
    """Store a run's outcome: a plan (done), reasons why none exists (infeasible), or neither (failed)."""
    if plan is not None:
        status, result = PlannerRun.Status.done, pl.plan_to_dict(plan)
    elif reasons:
        status, result = PlannerRun.Status.infeasible, {"reasons": list(reasons)}
    else:
        status, result = PlannerRun.Status.failed, {"reasons": ["the planner stopped unexpectedly"]}
    await PlannerRun.update({
        PlannerRun.status: status,
        PlannerRun.result: result,
        PlannerRun.changes: list(changes or []),
        PlannerRun.finished_at: datetime.now(UTC),
    }).where(PlannerRun.id == run_id)


async def publish_run(run_id: int, *, now: datetime, published_by: int | None) -> list[str]:
    """Publish the plan a finished run holds; the run records what changed and becomes `published`."""
    run = await PlannerRun.select().where(PlannerRun.id == run_id).first()
    if run is None:
        raise UserError(f"no planner run {run_id}")
    if run["status"] != PlannerRun.Status.done:
        raise UserError(f"planner run {run_id} has no plan to publish (it is {run['status']})")
    plan = pl.plan_from_dict(json_value(run["result"], {}))
    names = [c.name for c in plan.cohorts]
    rows = await Cohort.select(Cohort.id).where(Cohort.name.is_in(names) & (Cohort.program == run["program"]))
    changes = await publish_plan(plan, [r["id"] for r in rows], now=now, published_by=published_by)
    await PlannerRun.update({PlannerRun.status: PlannerRun.Status.published, PlannerRun.changes: changes}).where(
        PlannerRun.id == run_id
    )
    return changes
