"""What a learner's pages show after their live sessions: each session's materials, their own feedback and
whether a session is open for it, the sessions they missed that left materials, the Q&A boards they may
open, and their programs' support contacts. A constant number of queries whatever the schedule's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.tables import Attendance, Cohort
from server.services.clock import check_aware
from server.services.feedback import MyFeedback, can_rate, my_feedback
from server.services.materials import Material, session_materials
from server.services.schedule import SessionRow, learner_memberships


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
    cohort_ids = sorted({m["cohort"] for m in await learner_memberships(person_id)})
    return await _support_of(cohort_ids)


async def _support_of(cohort_ids: list[int]) -> tuple[SupportContact, ...]:
    if not cohort_ids:
        return ()
    rows = await Cohort.select(Cohort.program.name.as_alias("name"), Cohort.program.support.as_alias("support")).where(
        Cohort.id.is_in(cohort_ids))
    found = {(r["name"], r["support"]) for r in rows if r["support"]}
    return tuple(SupportContact(program_name=name, contact=contact, href=support_href(contact))
                 for name, contact in sorted(found))


async def learner_followup(person_id: int, sessions: tuple[SessionRow, ...], *, now: datetime) -> Followup:
    check_aware(now)
    ids = [s.id for s in sessions]
    materials = await session_materials(ids)
    absent = set()
    if ids:
        absent = {r["session"] for r in await Attendance.select(Attendance.session).where(
            (Attendance.person == person_id) & Attendance.session.is_in(ids)
            & (Attendance.status == Attendance.Status.absent.value))}
    memberships = await learner_memberships(person_id)
    cohort_ids = sorted({m["cohort"] for m in memberships})
    boards = ()
    if cohort_ids:
        boards = tuple(await Cohort.select(Cohort.id, Cohort.name).where(Cohort.id.is_in(cohort_ids)).order_by(
            Cohort.name))
    return Followup(
        materials=materials,
        feedback=await my_feedback(person_id, ids),
        rateable=frozenset(s.id for s in sessions if can_rate(s.starts_at, s.cancelled, now=now) and s.id not in absent),
        missed=tuple(s for s in sessions if s.id in absent and materials.get(s.id)),
        boards=boards,
        support=await _support_of(cohort_ids),
    )
