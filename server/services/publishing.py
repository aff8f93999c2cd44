"""`Plan` -> rows: publishing a plan of some cohorts, in one transaction.

Publishing never deletes a live session: a session that leaves the plan is cancelled (calendar feeds keep
showing it as cancelled), and every change to a session's time, facilitator or status bumps its iCalendar
SEQUENCE while its UID stays the same, so calendar clients update the event they already hold.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from models.tables import (
    AsyncModule,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    Section,
    SessionPrework,
    SessionUnit,
    Unit,
)
from planner import plan as pl
from server.db import write_transaction
from server.errors import UserError
from server.services.clock import check_aware, utc_text
from server.services.planning import cohort_rows


def new_uid(kind: str) -> str:
    return f"{kind}-{uuid.uuid4()}@cadence"


async def publish_plan(plan: pl.Plan, cohort_ids: list[int], *, now: datetime) -> list[str]:
    """Save the plan of these cohorts (one transaction) and mark them published. Returns what changed, in
    words; on a first publish, one summary line per cohort."""
    check_aware(now)
    async with write_transaction():
        cohorts = await cohort_rows(cohort_ids)
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


@dataclass
class _Target:
    """One cohort being published: its rows by the plan's keys, the instant, and what changed so far."""

    plan: pl.CohortPlan
    cohort_id: int
    name: str
    now: datetime
    person_of: dict[str, int] = field(default_factory=dict)  # email -> person id
    section_id: dict[str, int] = field(default_factory=dict)  # section key -> id
    unit_id: dict[str, int] = field(default_factory=dict)  # unit slug -> id
    unit_title: dict[str, str] = field(default_factory=dict)
    module_id: dict[str, int] = field(default_factory=dict)  # module key -> id
    changes: list[str] = field(default_factory=list)

    def say(self, words: str) -> None:
        self.changes.append(f"{self.name}: {words}")


async def _publish_cohort(cp: pl.CohortPlan, cohort: dict, now: datetime) -> list[str]:
    target = _Target(plan=cp, cohort_id=cohort["id"], name=cohort["name"], now=now)
    first = cohort["status"] != Cohort.Status.published
    await _people(target)
    await _sections(target)
    await _units(target, cohort["program"])
    await _publish_modules(target)
    await _publish_sessions(target)
    await Cohort.update({Cohort.status: Cohort.Status.published, Cohort.published_at: now}).where(
        Cohort.id == target.cohort_id
    )
    if first:
        sections = len(cp.sections)
        return [
            f"{target.name}: published {len(cp.sessions)} live sessions in {sections} "
            f"section{'s' if sections != 1 else ''} and {len(cp.modules)} modules"
        ]
    return target.changes or [f"{target.name}: nothing changed"]


async def _people(target: _Target) -> None:
    """People of this cohort, and the plan's facilitators, by email."""
    cp = target.plan
    members = await Membership.select(
        Membership.person.as_alias("person_id"), Membership.person.email.as_alias("email"),
    ).where(Membership.cohort == target.cohort_id)
    target.person_of = {m["email"]: m["person_id"] for m in members}
    outside = sorted({s.facilitator for s in cp.sessions} - set(target.person_of))
    if outside:
        for row in await Person.select(Person.id, Person.email).where(Person.email.is_in(outside)):
            target.person_of[row["email"]] = row["id"]
    unknown = sorted({s.facilitator for s in cp.sessions} - set(target.person_of))
    if unknown:
        raise UserError(f"{target.name}: facilitator {unknown[0]} is not a known person")


async def _sections(target: _Target) -> None:
    """Sections (kept when unused: cancelled sessions still point at theirs) and each learner's section."""
    cohort_id = target.cohort_id
    target.section_id = {s["key"]: s["id"] for s in await Section.select().where(Section.cohort == cohort_id)}
    for section in target.plan.sections:
        if section.id not in target.section_id:
            row = Section(cohort=cohort_id, key=section.id)
            await row.save()
            target.section_id[section.id] = row.id
    # Only current members: a member who left keeps the section they were in, as part of their history.
    current = (Membership.cohort == cohort_id) & Membership.left_at.is_null()
    await Membership.update({Membership.section: None}).where(current)
    for section in target.plan.sections:
        learner_ids = [target.person_of[email] for email in section.learners if email in target.person_of]
        if learner_ids:
            await Membership.update({Membership.section: target.section_id[section.id]}).where(
                current & Membership.person.is_in(learner_ids)
            )


async def _units(target: _Target, program_id: int) -> None:
    """Units of the program, by slug; every unit the plan names must be one."""
    cp = target.plan
    unit_rows = await Unit.select(Unit.id, Unit.slug, Unit.title).where(Unit.program == program_id)
    target.unit_id = {u["slug"]: u["id"] for u in unit_rows}
    target.unit_title = {u["slug"]: u["title"] for u in unit_rows}
    named = sorted({m.unit for m in cp.modules} | {x.unit for s in cp.sessions for x in s.units})
    missing = [slug for slug in named if slug not in target.unit_id]
    if missing:
        raise UserError(f"{target.name}: unit {missing[0]!r} is not part of the program")


async def _publish_modules(target: _Target) -> None:
    cp, now = target.plan, target.now
    existing = {m["key"]: m for m in await AsyncModule.select().where(AsyncModule.cohort == target.cohort_id)}
    parts: dict[str, list[str]] = defaultdict(list)
    for module in sorted(cp.modules, key=lambda m: (m.release, m.id)):
        parts[module.unit].append(module.id)
    for module in cp.modules:
        siblings = parts[module.unit]
        title = target.unit_title[module.unit]
        if len(siblings) > 1:
            title = f"{title} (part {siblings.index(module.id) + 1} of {len(siblings)})"
        values = {
            AsyncModule.unit: target.unit_id[module.unit],
            AsyncModule.title: title,
            AsyncModule.minutes: module.minutes,
            AsyncModule.release_at: module.release,
            AsyncModule.due_at: module.due,
        }
        row = existing.get(module.id)
        if row is None:
            new = AsyncModule(cohort=target.cohort_id, key=module.id, uid=new_uid("module"), sequence=0,
                              updated_at=now, **{column._meta.name: value for column, value in values.items()})
            await new.save()
            target.module_id[module.id] = new.id
            target.say(f"new module {title!r} due {utc_text(module.due)}")
            continue
        target.module_id[module.id] = row["id"]
        moved = row["due_at"] != module.due or row["release_at"] != module.release
        same = moved is False and (row["unit"], row["title"], row["minutes"]) == (
            target.unit_id[module.unit], title, module.minutes
        )
        if same:
            continue
        if moved:
            values[AsyncModule.sequence] = row["sequence"] + 1
            target.say(f"module {title!r} now due {utc_text(module.due)} (was {utc_text(row['due_at'])})")
        values[AsyncModule.updated_at] = now
        await AsyncModule.update(values).where(AsyncModule.id == row["id"])
    gone = [row for key, row in existing.items() if key not in target.module_id]
    if gone:
        gone_ids = [row["id"] for row in gone]
        kept = {c["module"] for c in await ModuleCompletion.select(ModuleCompletion.module).where(
            ModuleCompletion.module.is_in(gone_ids))}
        removable = [i for i in gone_ids if i not in kept]
        if removable:
            await AsyncModule.delete().where(AsyncModule.id.is_in(removable))
        for row in gone:
            target.say(f"module {row['title']!r} removed" + (
                " (kept for the learners who completed it)" if row["id"] in kept else ""))


async def _publish_sessions(target: _Target) -> None:
    now = target.now
    existing = {s["key"]: s for s in await LiveSession.select().where(LiveSession.cohort == target.cohort_id)}
    facilitator_email = {v: k for k, v in target.person_of.items()}
    planned: set[str] = set()
    for session in target.plan.sessions:
        planned.add(session.id)
        facilitator = target.person_of[session.facilitator]
        section = target.section_id[session.section]
        values = {
            LiveSession.section: section,
            LiveSession.starts_at: session.start,
            LiveSession.ends_at: session.end,
            LiveSession.facilitator: facilitator,
        }
        row = existing.get(session.id)
        if row is None:
            new = LiveSession(cohort=target.cohort_id, key=session.id, uid=new_uid("session"), sequence=0,
                              status=LiveSession.Status.scheduled, updated_at=now,
                              **{column._meta.name: value for column, value in values.items()})
            await new.save()
            session_row_id = new.id
            target.say(f"new session {session.id} on {utc_text(session.start)}")
        else:
            session_row_id = row["id"]
            words = []
            if row["status"] == LiveSession.Status.cancelled:
                words.append(f"session {session.id} is back on {utc_text(session.start)}")
            elif row["starts_at"] != session.start or row["ends_at"] != session.end:
                words.append(f"session {session.id} moved from {utc_text(row['starts_at'])} "
                             f"to {utc_text(session.start)}")
            if row["facilitator"] != facilitator and row["status"] != LiveSession.Status.cancelled:
                words.append(f"session {session.id} is now led by {session.facilitator} "
                             f"(was {facilitator_email.get(row['facilitator'], 'someone else')})")
            if words:
                values.update({
                    LiveSession.sequence: row["sequence"] + 1,
                    LiveSession.updated_at: now,
                    LiveSession.status: LiveSession.Status.scheduled,
                    LiveSession.cancelled_at: None,
                })
                for line in words:
                    target.say(line)
            if words or row["section"] != section:
                await LiveSession.update(values).where(LiveSession.id == session_row_id)
        await _rewrite_contents(target, session_row_id, session)

    for key, row in existing.items():
        if key not in planned and row["status"] == LiveSession.Status.scheduled:
            await LiveSession.update({
                LiveSession.status: LiveSession.Status.cancelled,
                LiveSession.cancelled_at: now,
                LiveSession.sequence: row["sequence"] + 1,
                LiveSession.updated_at: now,
            }).where(LiveSession.id == row["id"])
            target.say(f"session {key} on {utc_text(row['starts_at'])} cancelled")


async def _rewrite_contents(target: _Target, session_row_id: int, session: pl.Session) -> None:
    await SessionUnit.delete().where(SessionUnit.session == session_row_id)
    await SessionPrework.delete().where(SessionPrework.session == session_row_id)
    if session.units:
        await SessionUnit.insert(*[
            SessionUnit(session=session_row_id, unit=target.unit_id[portion.unit], minutes=portion.minutes,
                        position=i)
            for i, portion in enumerate(session.units)
        ])
    prework = [target.module_id[m] for m in dict.fromkeys(session.prework) if m in target.module_id]
    if prework:
        await SessionPrework.insert(*[SessionPrework(session=session_row_id, module=m) for m in prework])
