"""What a learner's pages show after their live sessions: each session's materials, their own feedback and
whether a session is open for it, the sessions they missed that left materials, the Q&A boards they may
open, and their programs' support contacts. A constant number of queries whatever the schedule's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.tables import Attendance, Membership
from server.db import fetch, in_list
from server.services.clock import check_aware
from server.services.feedback import MyFeedback, can_rate
from server.services.materials import Material, session_materials
from server.services.schedule import SessionRow


@dataclass(frozen=True)
class SupportContact:
    program_name: str
    contact: str
    href: str  # mailto: for an email address, the URL itself otherwise


@dataclass(frozen=True)
class Followup:
    materials: dict[int, list[Material]]  # session id -> materials
    feedback: dict[int, MyFeedback]  # session id -> my feedback
    rateable: frozenset[int]  # sessions open for my feedback
    missed: tuple[SessionRow, ...]  # marked absent, with materials to catch up on
    boards: tuple[dict, ...]  # {"id", "name"} of my cohorts, by name
    support: tuple[SupportContact, ...]


def support_href(contact: str) -> str:
    return contact if contact.lower().startswith(("http://", "https://")) else f"mailto:{contact}"


async def support_contacts(person_id: int) -> tuple[SupportContact, ...]:
    """The support contact of each program the person learns in (programs without one are left out)."""
    return _support_of(await _my_cohorts(person_id))


async def _my_cohorts(person_id: int) -> list[dict]:
    """id, name, program name and support contact of each cohort the person is a learner in, by name."""
    return await fetch(
        "SELECT c.id, c.name, g.name AS program_name, g.support FROM cohort c JOIN program g ON g.id = c.program"
        " WHERE c.id IN (SELECT cohort FROM membership WHERE person = {} AND role = {} AND left_at IS NULL)"
        " ORDER BY c.name, c.id", person_id, Membership.Role.learner.value)


def _support_of(cohorts: list[dict]) -> tuple[SupportContact, ...]:
    found = {(r["program_name"], r["support"]) for r in cohorts if r["support"]}
    return tuple(SupportContact(program_name=name, contact=contact, href=support_href(contact))
                 for name, contact in sorted(found))


# Where the person was marked absent and their feedback, as columns of a sessions read (`s` the session); the
# joins' `{}`: the person, the absent status, the person. One row at most each (unique per session and person).
MINE_COLUMNS = ", a.status AS my_status, f.session AS rated, f.rating, f.comment"
MINE_JOINS = (" LEFT JOIN attendance a ON a.session = s.id AND a.person = {} AND a.status = {}"
              " LEFT JOIN session_feedback f ON f.session = s.id AND f.person = {}")


def mine_args(person_id: int) -> tuple:
    return person_id, Attendance.Status.absent.value, person_id


async def learner_followup(person_id: int, sessions: tuple[SessionRow, ...], *, now: datetime) -> Followup:
    check_aware(now)
    ids = [s.id for s in sessions]
    materials = await session_materials(ids)
    absent, mine = set(), {}
    if ids:  # where I was marked absent and my feedback, in one query
        for r in await fetch(
                f"SELECT s.id{MINE_COLUMNS} FROM live_session s{MINE_JOINS}"
                f" WHERE s.id IN ({in_list(ids)}) AND (a.status IS NOT NULL OR f.session IS NOT NULL)",
                *mine_args(person_id), *ids):
            if r["my_status"] is not None:
                absent.add(r["id"])
            if r["rated"] is not None:
                mine[r["id"]] = my_feedback_of(r)
    return followup_of(sessions, materials, absent, mine, await _my_cohorts(person_id), now=now)


def my_feedback_of(row: dict) -> MyFeedback:
    return MyFeedback(session_id=row["id"], rating=row["rating"], comment=row["comment"] or "")


def followup_of(sessions: tuple[SessionRow, ...], materials: dict[int, list[Material]], absent: set[int],
                mine: dict[int, MyFeedback], cohorts: list[dict], *, now: datetime) -> Followup:
    """The follow-up from what was read: `absent` (sessions where I was marked absent), `mine` (my feedback
    by session), `cohorts` (my cohorts' id, name, program_name and support, by name)."""
    return Followup(
        materials=materials,
        feedback=mine,
        rateable=frozenset(s.id for s in sessions if can_rate(s.starts_at, s.cancelled, now=now) and s.id not in absent),
        missed=tuple(s for s in sessions if s.id in absent and materials.get(s.id)),
        boards=tuple({"id": c["id"], "name": c["name"]} for c in cohorts),
        support=_support_of(cohorts),
    )
