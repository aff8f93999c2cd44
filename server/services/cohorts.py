"""Cohorts: the list, one cohort, creating one, the roster, the facilitators, published sessions, recent
planner runs, and adding a member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.json_value import json_value
from models.tables import Cohort, Membership, Person
from server.db import (
    counts_beside,
    fetch,
    fetch_one,
    in_list,
    name_or_email_contains,
    page_with_counts,
    write_transaction,
)
from server.services import roster_changes
from server.services.absences import days_of
from server.services.people import ROLE_RANK, days_from_names

MEMBER_ROLES = tuple(role.value for role in Membership.Role)


async def cohorts() -> list[dict]:
    """Every cohort by start date, with its `program_name` and its number of `members`."""
    # one query, not one count per cohort
    return await fetch(
        "SELECT c.*, g.name AS program_name,"
        " (SELECT COUNT(*) FROM membership m WHERE m.cohort = c.id AND m.left_at IS NULL) AS members"
        " FROM cohort c LEFT JOIN program g ON g.id = c.program ORDER BY c.start_date")


async def cohort(cohort_id: int) -> dict | None:
    """The cohort row with its `program_name`."""
    return await fetch_one("SELECT c.*, g.name AS program_name FROM cohort c LEFT JOIN program g ON g.id = c.program"
                           " WHERE c.id = {}", cohort_id)


@dataclass(frozen=True)
class CohortStaff:
    """A cohort's page head: the cohort (as `cohort`), its facilitators (as `facilitators`) and their absences
    that have not ended (as `absences.upcoming` lists them)."""
    cohort: dict
    facilitators: list[dict]
    absences: list[dict]


# One row per (facilitator, upcoming absence): the cohort's columns, then the facilitator's (f_), then the
# absence's (a_); a facilitator with no absence has one row with the a_ columns null, a cohort with no
# facilitator one row with both null. Three lists in one round trip (they were three queries).
_COHORT_STAFF = (
    "SELECT c.*, g.name AS program_name, m.id AS f_membership, f.id AS f_id, f.name AS f_name, f.email AS f_email,"
    " f.timezone AS f_timezone, a.id AS a_id, a.starts_at AS a_starts_at, a.ends_at AS a_ends_at,"
    " a.note AS a_note, a.created_by AS a_created_by, a.created_at AS a_created_at"
    " FROM cohort c LEFT JOIN program g ON g.id = c.program"
    " LEFT JOIN membership m ON m.cohort = c.id AND m.role = {} AND m.left_at IS NULL"
    " LEFT JOIN person f ON f.id = m.person"
    " LEFT JOIN absence a ON a.person = f.id AND a.ends_at > {}"
    " WHERE c.id = {} ORDER BY f.name, f.id, m.id, a.starts_at, a.id"
)
_STAFF_COLUMNS = ("f_membership", "f_id", "f_name", "f_email", "f_timezone", "a_id", "a_starts_at", "a_ends_at",
                  "a_note", "a_created_by", "a_created_at")


async def cohort_with_staff(cohort_id: int, now: datetime) -> CohortStaff | None:
    """The cohort row with its `program_name`, its facilitators (`facilitators`' rows and order) and their
    upcoming absences (`absences.upcoming`'s rows and order), in one query; None when there is no such cohort."""
    rows = await fetch(_COHORT_STAFF, Membership.Role.facilitator.value, now, cohort_id)
    if not rows:
        return None
    staff, away = {}, {}
    for row in rows:
        f_membership, f_id, f_name, f_email, f_timezone, a_id, *absence = (row.pop(key) for key in _STAFF_COLUMNS)
        if f_id is None:  # no facilitator (or a membership whose person is gone, which the old join skipped)
            continue
        staff.setdefault(f_membership, {"id": f_id, "name": f_name, "email": f_email, "timezone": f_timezone})
        if a_id is not None and a_id not in away:
            starts_at, ends_at, note, created_by, created_at = absence
            first_day, last_day = days_of(starts_at, ends_at, f_timezone)
            away[a_id] = {"id": a_id, "person": f_id, "starts_at": starts_at, "ends_at": ends_at, "note": note,
                          "created_by": created_by, "created_at": created_at, "name": f_name,
                          "timezone": f_timezone, "first_day": first_day, "last_day": last_day}
    return CohortStaff(cohort=rows[0], facilitators=list(staff.values()),
                       absences=sorted(away.values(), key=lambda a: (a["starts_at"], a["id"])))


async def create_cohort(values: dict) -> int | None:
    """A new draft cohort from checked `values`; its id, or None when a cohort has that name already."""
    async with write_transaction():
        if await Cohort.exists().where(Cohort.name == values["name"]):
            return None
        row = Cohort(**values)
        await row.save()
    return row.id


# Members as the roster lists them: staff first (facilitators, managers), then learners, each by name in any case.
_MEMBER_ORDER = ("CASE m.role WHEN 'facilitator' THEN 0 WHEN 'manager' THEN 1 WHEN 'learner' THEN 2 ELSE 3 END,"
                 " LOWER(p.name), m.id")
_MEMBER_COLUMNS = ("m.id, m.role, p.id AS person_id, p.name, p.email, p.timezone, p.work_start, p.work_end,"
                   " p.work_days, boss.name AS manager_name, x.key AS section, m.section AS section_id")
_MEMBER_JOINS = (" FROM membership m LEFT JOIN person p ON p.id = m.person LEFT JOIN person boss ON boss.id = m.manager"
                 " LEFT JOIN section x ON x.id = m.section WHERE m.cohort = {} AND m.left_at IS NULL")


async def roster_of(cohort_id: int) -> list[dict]:
    """Members with their zone, hours and manager, learners last so staff stand out at the top."""
    return await fetch(f"SELECT {_MEMBER_COLUMNS}{_MEMBER_JOINS} ORDER BY {_MEMBER_ORDER}", cohort_id)


MEMBERS_PAGE = 50  # members per page of a cohort's roster (staff come first)


@dataclass(frozen=True)
class MembersPage:
    rows: list[dict]  # one page of roster_of's rows matching `query`
    learners: int  # in the whole cohort
    facilitators: int
    total: int
    matching: int
    page: int
    pages: int
    query: str

    @property
    def first(self) -> int:
        return (self.page - 1) * MEMBERS_PAGE + 1 if self.rows else 0


async def members_page(cohort_id: int, page: int = 1, query: str = "") -> MembersPage:
    """A page of the cohort's current members (roster_of's order) whose name or email contains `query` (any
    case); the last page when `page` is past it. Sorted, counted and cut in SQL, so a page reads its own rows
    whatever the cohort's size (`server.db.page_with_counts`)."""
    query = query.strip()[:100]
    matches, match_args = name_or_email_contains(query, "p")
    counts = ("SELECT COUNT(*) AS total, SUM(CASE WHEN m.role = {} THEN 1 ELSE 0 END) AS learners,"
              " SUM(CASE WHEN m.role = {} THEN 1 ELSE 0 END) AS facilitators,"
              f" SUM(CASE WHEN {matches} THEN 1 ELSE 0 END) AS matching"
              f" FROM membership m{' LEFT JOIN person p ON p.id = m.person' if query else ''}"
              " WHERE m.cohort = {} AND m.left_at IS NULL")
    count_args = (Membership.Role.learner.value, Membership.Role.facilitator.value, *match_args, cohort_id)

    async def one_page(number: int | None) -> list[dict]:
        return await fetch(
            f"WITH numbers AS ({counts}) SELECT {_MEMBER_COLUMNS},"
            f" {counts_beside('total', 'learners', 'facilitators', 'matching')}{_MEMBER_JOINS} AND {matches}"
            f" ORDER BY {_MEMBER_ORDER} LIMIT {MEMBERS_PAGE} OFFSET {((number or 1) - 1) * MEMBERS_PAGE}",
            *count_args, cohort_id, *match_args)

    rows, counted, page = await page_with_counts(one_page, counts, count_args, page, MEMBERS_PAGE)
    matching = int(counted["matching"] or 0)
    pages = max(1, -(-matching // MEMBERS_PAGE))
    return MembersPage(
        rows=rows, learners=int(counted["learners"] or 0), facilitators=int(counted["facilitators"] or 0),
        total=int(counted["total"] or 0), matching=matching, page=page, pages=pages, query=query)


async def published_sessions(cohort_id: int) -> list[dict]:
    """The cohort's sessions by start, each with the titles of its `units` in teaching order (its label): one
    query, a row per unit (the titles were a second query)."""
    sessions: dict[int, dict] = {}
    for row in await fetch(
            "SELECT s.*, p.name AS facilitator_name, p.timezone AS facilitator_zone, u.title AS unit_title"
            " FROM live_session s LEFT JOIN person p ON p.id = s.facilitator"
            " LEFT JOIN session_unit su ON su.session = s.id LEFT JOIN unit u ON u.id = su.unit"
            " WHERE s.cohort = {} ORDER BY s.starts_at, s.id, su.position, su.id", cohort_id):
        title = row.pop("unit_title")
        first = sessions.setdefault(row["id"], {**row, "units": []})
        if title is not None:
            first["units"].append(title)
    return list(sessions.values())


async def facilitators(cohort_id: int) -> list[dict]:
    return await fetch(
        "SELECT p.id, p.name, p.email, p.timezone FROM membership m JOIN person p ON p.id = m.person"
        " WHERE m.cohort = {} AND m.role = {} AND m.left_at IS NULL ORDER BY p.name, p.id",
        cohort_id, Membership.Role.facilitator.value)


async def recent_runs(cohort: dict, limit: int = 5) -> list[dict]:
    """The latest planner runs that planned this cohort, newest first."""
    runs = await fetch("SELECT id, status, started_at, cohort_names FROM planner_run WHERE program = {}"
                       " ORDER BY id DESC LIMIT 20", cohort["program"])
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
    names = list(names)
    return await fetch(f"SELECT * FROM cohort WHERE program = {{}} AND name IN ({in_list(names)})", program_id, *names)


def any_published(rows: list[dict]) -> bool:
    """Some of these cohorts have a published plan (planning them again is a re-plan)."""
    return any(row["status"] == Cohort.Status.published for row in rows)
