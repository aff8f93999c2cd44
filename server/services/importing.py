"""Import a planner `Problem` (a program and its cohorts, read from files) into the database, in one transaction.

- The program is matched by slug. Its units are matched by slug (updated, added, removed) and its
  prerequisites rewritten — unless a cohort of the program is published and the units differ: published
  sessions and modules point at those units, so that is refused with a clear message.
- People are matched by email. A new person's account role comes from their membership; an existing person
  keeps their password and profile (zone, hours, days: theirs to set), and is only ever promoted
  (learner -> manager -> facilitator; designers stay designers).
- Cohorts are matched by name; a published cohort cannot be re-imported (re-plan it instead). A draft
  cohort's settings and memberships are replaced by the file's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.tables import Cohort, Membership, Person, Program, Unit, UnitRequirement
from planner import problem as p
from server.db import write_transaction
from server.errors import UserError
from server.services.people import ROLE_RANK, work_days_text


@dataclass(frozen=True)
class Imported:
    program_id: int
    cohort_ids: list[int]


def hours_text(hours: p.WorkingHours) -> tuple[str, str, str]:
    """WorkingHours -> the Person row's (work_start, work_end, work_days) texts."""
    return hours.start.strftime("%H:%M"), hours.end.strftime("%H:%M"), work_days_text(hours.days)


async def import_problem(problem: p.Problem, *, now: datetime) -> Imported:
    """The problem's program, people and cohorts, in one transaction; `now` stamps a changed program."""
    async with write_transaction():
        program_id = await _upsert_program(problem.program, now)
        person_ids = await _upsert_people(problem.cohorts)
        cohort_ids = [await _upsert_cohort(cohort, program_id, person_ids) for cohort in problem.cohorts]
    return Imported(program_id=program_id, cohort_ids=cohort_ids)


async def _upsert_program(program: p.Program, now: datetime) -> int:
    values = {
        Program.name: program.name,
        Program.live_minutes: program.live_minutes,
        Program.module_max_minutes: program.module_max_minutes,
        Program.weekly_async_minutes: program.weekly_async_minutes,
        Program.live_sessions_per_week: program.live_sessions_per_week,
        Program.prework_lead_hours: program.prework_lead_hours,
        Program.support: program.support,  # may change while published (it is not a planning setting)
        Program.purpose: program.purpose,  # not a planning setting: it may change while a cohort is published
    }
    row = await Program.objects().get(Program.slug == program.id)
    if row is None:
        row = Program(slug=program.id, **{column._meta.name: value for column, value in values.items()})
        await row.save()
        program_id = row.id
    else:
        program_id = row.id
        published = await Cohort.exists().where(
            (Cohort.program == program_id) & (Cohort.status == Cohort.Status.published)
        )
        if published and not await _same_program(program_id, program, row):
            raise UserError(
                f"program {program.id!r}: a cohort of it is published, so its settings and units cannot change; "
                "import it under a new id"
            )
        await Program.update({**values, Program.updated_at: now}).where(Program.id == program_id)
    await _replace_units(program_id, program)
    return program_id


async def _same_program(program_id: int, program: p.Program, row: Program) -> bool:
    settings = (row.name, row.live_minutes, row.module_max_minutes, row.weekly_async_minutes,
                row.live_sessions_per_week, row.prework_lead_hours)
    wanted = (program.name, program.live_minutes, program.module_max_minutes, program.weekly_async_minutes,
              program.live_sessions_per_week, program.prework_lead_hours)
    return settings == wanted and await _units_of(program_id) == _units_wanted(program)


async def _units_of(program_id: int) -> list[tuple]:
    units = await Unit.select().where(Unit.program == program_id).order_by(Unit.position)
    slug_of = {u["id"]: u["slug"] for u in units}
    requirements = await UnitRequirement.select().where(UnitRequirement.unit.is_in(list(slug_of) or [0]))
    requires: dict[str, set[str]] = {}
    for r in requirements:
        requires.setdefault(slug_of[r["unit"]], set()).add(slug_of[r["requires"]])
    return [(u["slug"], u["title"], u["minutes"], u["mode"], frozenset(requires.get(u["slug"], ()))) for u in units]


def _units_wanted(program: p.Program) -> list[tuple]:
    return [(u.id, u.title, u.minutes, u.mode.value, frozenset(u.requires)) for u in program.units]


async def _replace_units(program_id: int, program: p.Program) -> None:
    existing = {u["slug"]: u["id"] for u in await Unit.select(Unit.id, Unit.slug).where(Unit.program == program_id)}
    ids: dict[str, int] = {}
    for position, unit in enumerate(program.units):
        values = {Unit.title: unit.title, Unit.minutes: unit.minutes, Unit.mode: unit.mode.value,
                  Unit.position: position}
        if unit.id in existing:
            await Unit.update(values).where(Unit.id == existing[unit.id])
            ids[unit.id] = existing[unit.id]
        else:
            row = Unit(program=program_id, slug=unit.id, title=unit.title, minutes=unit.minutes,
                       mode=unit.mode.value, position=position)
            await row.save()
            ids[unit.id] = row.id
    gone = [unit_id for slug, unit_id in existing.items() if slug not in ids]
    if gone:
        await Unit.delete().where(Unit.id.is_in(gone))
    await UnitRequirement.delete().where(UnitRequirement.unit.is_in(list(ids.values())))
    requirements = [UnitRequirement(unit=ids[u.id], requires=ids[r]) for u in program.units for r in u.requires]
    if requirements:
        await UnitRequirement.insert(*requirements)


async def _upsert_people(cohorts: tuple[p.Cohort, ...]) -> dict[str, int]:
    wanted: dict[str, tuple[p.Person, str]] = {}  # email -> (person, highest membership role)
    for cohort in cohorts:
        for member in cohort.members:
            email = member.email.lower()
            role = member.role.value
            if email in wanted and ROLE_RANK[wanted[email][1]] >= ROLE_RANK[role]:
                continue
            wanted[email] = (member.person, role)
    rows = await Person.select(Person.id, Person.email, Person.role).where(Person.email.is_in(list(wanted) or [""]))
    existing = {row["email"]: row for row in rows}
    ids: dict[str, int] = {}
    for email, (person, role) in wanted.items():
        row = existing.get(email)
        if row is None:
            start, end, days = hours_text(person.hours)
            new = Person(email=email, name=person.name, role=role, timezone=person.timezone,
                         work_start=start, work_end=end, work_days=days)
            await new.save()
            ids[email] = new.id
        else:
            ids[email] = row["id"]
            if ROLE_RANK.get(row["role"], 0) < ROLE_RANK[role]:
                await Person.update({Person.role: role}).where(Person.id == row["id"])
    return ids


async def _upsert_cohort(cohort: p.Cohort, program_id: int, person_ids: dict[str, int]) -> int:
    values = {
        Cohort.program: program_id,
        Cohort.start_date: cohort.start,
        Cohort.weeks: cohort.weeks,
        Cohort.timezone: cohort.timezone,
        Cohort.max_sections: cohort.max_sections,
        Cohort.min_section_size: cohort.min_section_size,
        Cohort.blackout: [day.isoformat() for day in cohort.blackout],
    }
    row = await Cohort.select(Cohort.id, Cohort.status).where(Cohort.name == cohort.name).first()
    joined: dict[int, object] = {}  # person -> joined_at, kept for members imported again
    if row is None:
        new = Cohort(name=cohort.name, **{column._meta.name: value for column, value in values.items()})
        await new.save()
        cohort_id = new.id
    else:
        if row["status"] == Cohort.Status.published:
            raise UserError(
                f"cohort {cohort.name!r} is already published and cannot be imported again; re-plan it instead"
            )
        cohort_id = row["id"]
        await Cohort.update(values).where(Cohort.id == cohort_id)
        joined = {m["person"]: m["joined_at"] for m in await Membership.select(
            Membership.person, Membership.joined_at).where(Membership.cohort == cohort_id)}
        await Membership.delete().where(Membership.cohort == cohort_id)
    memberships = []
    for member in cohort.members:
        manager_id = None
        if member.manager:
            manager_id = person_ids.get(member.manager.lower())
            if manager_id is None:
                manager_id = await Person.select(Person.id).where(Person.email == member.manager.lower()).first()
                manager_id = manager_id and manager_id["id"]
            if manager_id is None:
                raise UserError(f"cohort {cohort.name!r}: {member.email}'s manager {member.manager} is not known")
        person_id = person_ids[member.email.lower()]
        kept = {"joined_at": joined[person_id]} if joined.get(person_id) is not None else {}
        memberships.append(Membership(cohort=cohort_id, person=person_id, role=member.role.value,
                                      manager=manager_id, **kept))
    if memberships:
        await Membership.insert(*memberships)
    return cohort_id
