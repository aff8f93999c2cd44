"""A tiny published world for the readiness, learner, facilitator and manager tests, written row by row.

Two cohorts of one program. Cohort A ("Alpha") has one section with learners Lea and Leo (both reporting to
manager Mia) and facilitator Fay; cohort B ("Beta") has learner Ben (reporting to manager Max) and
facilitator Finn. Times are fixed around NOW so "past", "upcoming" and "overdue" are known:

- Alpha: session `past` (NOW - 2 days) and `next` (NOW + 2 days, prework m_welcome + m_tour), modules
  m_welcome (due NOW - 1 day: overdue unless done), m_tour (due NOW + 1 day), m_later (due NOW + 5 days).
- Beta: session `beta_next` (NOW + 3 days, prework m_beta), module m_beta.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from models.tables import (
    AsyncModule,
    Cohort,
    LiveSession,
    Membership,
    Person,
    Program,
    Section,
    SessionPrework,
    SessionUnit,
    Unit,
)

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class World:
    lea: int
    leo: int
    ben: int
    fay: int
    finn: int
    mia: int
    max: int
    designer: int
    alpha: int
    beta: int
    past: int
    next: int
    beta_next: int
    m_welcome: int
    m_tour: int
    m_later: int
    m_beta: int


async def _person(email: str, name: str, role: str, timezone: str = "UTC", password_hash: str = "") -> int:
    person = Person(email=email, name=name, role=role, timezone=timezone, password_hash=password_hash)
    await person.save()
    return person.id


async def _save(row):
    await row.save()
    return row.id


async def build_world(password_hash: str = "") -> World:
    """Write the world described above; every person gets `password_hash` (so web tests can sign in)."""
    ph = password_hash
    lea = await _person("lea@example.com", "Lea Learner", "learner", "America/New_York", ph)
    leo = await _person("leo@example.com", "Leo Learner", "learner", "Asia/Tokyo", ph)
    ben = await _person("ben@example.com", "Ben Beta", "learner", "Europe/Berlin", ph)
    fay = await _person("fay@example.com", "Fay Facilitator", "facilitator", "Europe/London", ph)
    finn = await _person("finn@example.com", "Finn Facilitator", "facilitator", "Europe/Helsinki", ph)
    mia = await _person("mia@example.com", "Mia Manager", "manager", "America/Chicago", ph)
    max_ = await _person("max@example.com", "Max Manager", "manager", "Europe/Paris", ph)
    designer = await _person("dee@example.com", "Dee Designer", "designer", "UTC", ph)

    program = await _save(Program(slug="p", name="Program"))
    welcome = await _save(Unit(program=program, slug="welcome", title="Welcome", minutes=10, mode="async"))
    tour = await _save(Unit(program=program, slug="tour", title="Product tour", minutes=15, mode="async"))
    later = await _save(Unit(program=program, slug="later", title="Later reading", minutes=5, mode="async"))
    kickoff = await _save(Unit(program=program, slug="kickoff", title="Kickoff", minutes=60, mode="live"))

    async def cohort(name: str) -> tuple[int, int]:
        cohort_id = await _save(
            Cohort(program=program, name=name, start_date=date(2027, 3, 1), weeks=4, status="published")
        )
        section_id = await _save(Section(cohort=cohort_id, key=f"{name.lower()}/a"))
        return cohort_id, section_id

    alpha, alpha_a = await cohort("Alpha")
    beta, beta_a = await cohort("Beta")
    for person, cohort_id, section, role, manager in (
        (lea, alpha, alpha_a, "learner", mia),
        (leo, alpha, alpha_a, "learner", mia),
        (fay, alpha, None, "facilitator", None),
        (mia, alpha, None, "manager", None),
        (ben, beta, beta_a, "learner", max_),
        (finn, beta, None, "facilitator", None),
        (max_, beta, None, "manager", None),
    ):
        await _save(Membership(cohort=cohort_id, person=person, role=role, section=section, manager=manager))

    async def module(cohort_id: int, unit: int, key: str, title: str, minutes: int, due: timedelta) -> int:
        return await _save(
            AsyncModule(
                cohort=cohort_id, unit=unit, key=key, uid=f"{key}@test", title=title, minutes=minutes,
                release_at=NOW - timedelta(days=7), due_at=NOW + due,
            )
        )

    m_welcome = await module(alpha, welcome, "welcome-1", "Welcome", 10, timedelta(days=-1))
    m_tour = await module(alpha, tour, "tour-1", "Product tour", 15, timedelta(days=1))
    m_later = await module(alpha, later, "later-1", "Later reading", 5, timedelta(days=5))
    m_beta = await module(beta, welcome, "beta-welcome-1", "Beta welcome", 10, timedelta(days=1))

    async def session(cohort_id: int, section: int, key: str, start: timedelta, facilitator: int) -> int:
        session_id = await _save(
            LiveSession(
                cohort=cohort_id, section=section, key=key, uid=f"{key}@test", starts_at=NOW + start,
                ends_at=NOW + start + timedelta(hours=1), facilitator=facilitator,
                join_url=f"https://meet.example.com/{key}",
            )
        )
        await _save(SessionUnit(session=session_id, unit=kickoff, minutes=60, position=0))
        return session_id

    past = await session(alpha, alpha_a, "alpha-1", timedelta(days=-2), fay)
    next_ = await session(alpha, alpha_a, "alpha-2", timedelta(days=2), fay)
    beta_next = await session(beta, beta_a, "beta-1", timedelta(days=3), finn)
    for session_id, module_id in ((next_, m_welcome), (next_, m_tour), (beta_next, m_beta)):
        await _save(SessionPrework(session=session_id, module=module_id))

    return World(
        lea=lea, leo=leo, ben=ben, fay=fay, finn=finn, mia=mia, max=max_, designer=designer, alpha=alpha,
        beta=beta, past=past, next=next_, beta_next=beta_next, m_welcome=m_welcome, m_tour=m_tour,
        m_later=m_later, m_beta=m_beta,
    )
