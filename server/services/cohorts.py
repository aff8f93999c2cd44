"""Cohorts: the list, one cohort, creating one, the roster, the facilitators, published sessions, recent
planner runs, and adding a member."""

from __future__ import annotations

from datetime import datetime

from models.json_value import json_value
from models.tables import Cohort, LiveSession, Membership, Person, PlannerRun, SessionUnit
from server.db import write_transaction
from server.services import roster_changes
from server.services.people import ROLE_RANK, days_from_names

MEMBER_ROLES = tuple(role.value for role in Membership.Role)


async def cohorts() -> list[dict]:
    """Every cohort by start date, with its `program_name` and its number of `members`."""
    rows = await Cohort.select(*Cohort.all_columns(), Cohort.program.name.as_alias("program_name")).order_by(
        Cohort.start_date)
    for row in rows:
        row["members"] = await Membership.count().where((Membership.cohort == row["id"]) & Membership.left_at.is_null())
    return rows


async def cohort(cohort_id: int) -> dict | None:
    """The cohort row with its `program_name`."""
    return await Cohort.select(*Cohort.all_columns(), Cohort.program.name.as_alias("program_name")).where(
        Cohort.id == cohort_id).first()


async def create_cohort(values: dict) -> int | None:
    """A new draft cohort from checked `values`; its id, or None when a cohort has that name already."""
    async with write_transaction():
        if await Cohort.exists().where(Cohort.name == values["name"]):
            return None
        row = Cohort(**values)
        await row.save()
    return row.id


async def roster_of(cohort_id: int) -> list[dict]:
    """Members with their zone, hours and manager, learners last so staff stand out at the top."""
    rows = await Membership.select(
        Membership.id,
        Membership.role,
        Membership.person.id.as_alias("person_id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
        Membership.person.work_start.as_alias("work_start"),
        Membership.person.work_end.as_alias("work_end"),
        Membership.person.work_days.as_alias("work_days"),
        Membership.manager.name.as_alias("manager_name"),
        Membership.section.key.as_alias("section"),
        Membership.section.as_alias("section_id"),
    ).where((Membership.cohort == cohort_id) & Membership.left_at.is_null())
    order = {"facilitator": 0, "manager": 1, "learner": 2}
    return sorted(rows, key=lambda r: (order.get(r["role"], 3), r["name"].lower()))


async def published_sessions(cohort_id: int) -> list[dict]:
    """The cohort's sessions by start, each with the titles of its `units` in teaching order (its label)."""
    rows = await LiveSession.select(
        *LiveSession.all_columns(),
        LiveSession.facilitator.name.as_alias("facilitator_name"),
        LiveSession.facilitator.timezone.as_alias("facilitator_zone"),
    ).where(LiveSession.cohort == cohort_id).order_by(LiveSession.starts_at)
    titles: dict[int, list[str]] = {row["id"]: [] for row in rows}
    if rows:
        for unit in await SessionUnit.select(SessionUnit.session, SessionUnit.unit.title.as_alias("title")).where(
                SessionUnit.session.is_in(list(titles))).order_by(SessionUnit.position):
            titles[unit["session"]].append(unit["title"])
    for row in rows:
        row["units"] = titles[row["id"]]
    return rows


async def facilitators(cohort_id: int) -> list[dict]:
    return await Membership.select(
        Membership.person.id.as_alias("id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
    ).where((Membership.cohort == cohort_id) & (Membership.role == Membership.Role.facilitator)
            & Membership.left_at.is_null()).order_by(
        Membership.person.name)


async def recent_runs(cohort: dict, limit: int = 5) -> list[dict]:
    """The latest planner runs that planned this cohort, newest first."""
    runs = await PlannerRun.select().where(PlannerRun.program == cohort["program"]).order_by(
        PlannerRun.id, ascending=False).limit(20)
    return [r for r in runs if cohort["name"] in json_value(r["cohort_names"], [])][:limit]


async def add_member(cohort_id: int, values: dict, manager_id: int | None, *, actor: int | None,
                     now: datetime) -> str | None:
    """Add a person (created when new) to the cohort, in one transaction with its audit row; their name, or
    None when they are a current member already. A member who left comes back on their old row (their history
    stays with it). An existing person keeps their own profile; their account role is only ever promoted."""
    async with write_transaction():
        person = await Person.objects().where(Person.email == values["email"]).first()
        if person is None:
            person = Person(email=values["email"], name=values["name"], role=values["role"],
                            timezone=values["timezone"], work_start=values["work_start"],
                            work_end=values["work_end"], work_days=days_from_names(values["work_days"]))
            await person.save()
        elif ROLE_RANK.get(values["role"], 0) > ROLE_RANK.get(person.role, 0):
            await Person.update({Person.role: values["role"]}).where(Person.id == person.id)
        former = await Membership.select(Membership.id, Membership.left_at).where(
            (Membership.cohort == cohort_id) & (Membership.person == person.id)).first()
        if former is not None and former["left_at"] is None:
            return None
        if former is not None:
            await Membership.update({
                Membership.role: values["role"], Membership.manager: manager_id, Membership.section: None,
                Membership.left_at: None, Membership.left_by: None, Membership.left_reason: "",
                Membership.moved_from: None, Membership.moved_at: None,
            }).where(Membership.id == former["id"])
        else:
            await Membership(cohort=cohort_id, person=person.id, role=values["role"], manager=manager_id).save()
        words = f"{'re-added' if former else 'added'} {person.name} ({values['role']})"
        await roster_changes.record("added", actor=actor, person=person.id, cohort=cohort_id, details=words, now=now)
    return person.name


async def cohorts_by_id(cohort_ids: list[int]) -> list[dict]:
    """Id, name and program of the cohorts with these ids (those that exist)."""
    return await Cohort.select(Cohort.id, Cohort.name, Cohort.program).where(Cohort.id.is_in(cohort_ids or [0]))


async def cohorts_named(program_id: int, names: list[str]) -> list[dict]:
    """The program's cohort rows with these names (a planner run names its cohorts)."""
    return await Cohort.select().where(Cohort.name.is_in(names or [""]) & (Cohort.program == program_id))


def any_published(rows: list[dict]) -> bool:
    """Some of these cohorts have a published plan (planning them again is a re-plan)."""
    return any(row["status"] == Cohort.Status.published for row in rows)
