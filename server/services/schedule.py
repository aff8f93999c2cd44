"""Sessions and modules as people see them: the rows the learner, facilitator and manager services share,
and the queries that build them.

Every instant stays in UTC here; the templates convert it for the person who looks. Each function takes
`now` so that "upcoming", "overdue" and "past" are decided in one place and tests can pin the clock.

Words used throughout:
- a learner's *prework* for a session: the modules linked to that session by SessionPrework;
- *ready*: every prework module of the session is marked done by the learner (no prework = ready);
- *overdue*: a module whose due instant has passed and that the learner has not marked done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from models.tables import AsyncModule, LiveSession, Membership, ModuleCompletion, SessionPrework, SessionUnit


@dataclass(frozen=True)
class ModuleRow:
    """One async module as one learner sees it."""

    id: int
    title: str
    minutes: int
    release_at: datetime
    due_at: datetime
    cohort_name: str
    done: bool
    overdue: bool


@dataclass(frozen=True)
class Progress:
    done_modules: int
    total_modules: int
    done_minutes: int
    total_minutes: int

    @property
    def percent(self) -> int:
        """Share of minutes done, 0..100 (modules differ in length, so minutes say more than a count)."""
        if self.total_minutes == 0:
            return 0
        return round(100 * self.done_minutes / self.total_minutes)


@dataclass(frozen=True)
class SessionRow:
    id: int
    cohort_id: int
    cohort_name: str
    section_id: int
    section_key: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    cancelled: bool
    facilitator_id: int
    facilitator_name: str
    units: tuple[str, ...]  # unit titles in teaching order
    prework: tuple[ModuleRow, ...] = ()  # with the viewing learner's status; empty for other viewers

    @property
    def prework_done(self) -> int:
        return sum(1 for module in self.prework if module.done)



async def learner_memberships(person_id: int) -> list[dict]:
    return await Membership.select(Membership.cohort, Membership.section).where(
        (Membership.person == person_id) & (Membership.role == Membership.Role.learner.value)
        & Membership.left_at.is_null()
    )


async def facilitated_cohorts(person_id: int) -> list[int]:
    rows = await Membership.select(Membership.cohort).where(
        (Membership.person == person_id) & (Membership.role == Membership.Role.facilitator.value)
        & Membership.left_at.is_null()
    )
    return sorted({row["cohort"] for row in rows})


async def section_learners(session_id: int) -> list[dict]:
    """id, name, email, timezone of every learner member of the session's section, by name."""
    session = await LiveSession.select(LiveSession.section, LiveSession.cohort).where(
        LiveSession.id == session_id
    ).first()
    if session is None:
        return []
    rows = await Membership.select(
        Membership.person.id.as_alias("id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
    ).where(
        (Membership.section == session["section"])
        & (Membership.cohort == session["cohort"])
        & (Membership.role == Membership.Role.learner.value)
        & Membership.left_at.is_null()
    )
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["email"]))


async def session_rows(where) -> tuple[SessionRow, ...]:
    if where is None:
        return ()
    query = LiveSession.select(
        LiveSession.id,
        LiveSession.cohort,
        LiveSession.cohort.name.as_alias("cohort_name"),
        LiveSession.section,
        LiveSession.section.key.as_alias("section_key"),
        LiveSession.starts_at,
        LiveSession.ends_at,
        LiveSession.join_url,
        LiveSession.status,
        LiveSession.facilitator,
        LiveSession.facilitator.name.as_alias("facilitator_name"),
    ).order_by(LiveSession.starts_at).order_by(LiveSession.id)
    rows = await query.where(where)
    units = await _unit_titles([row["id"] for row in rows])
    return tuple(
        SessionRow(
            id=row["id"],
            cohort_id=row["cohort"],
            cohort_name=row["cohort_name"],
            section_id=row["section"],
            section_key=row["section_key"] or "",
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            join_url=row["join_url"] or "",
            cancelled=row["status"] == LiveSession.Status.cancelled.value,
            facilitator_id=row["facilitator"],
            facilitator_name=row["facilitator_name"] or "",
            units=tuple(units.get(row["id"], ())),
        )
        for row in rows
    )


async def _unit_titles(session_ids: list[int]) -> dict[int, list[str]]:
    if not session_ids:
        return {}
    rows = await SessionUnit.select(
        SessionUnit.session, SessionUnit.unit.title.as_alias("title")
    ).where(SessionUnit.session.is_in(session_ids)).order_by(SessionUnit.position)
    titles: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        if row["title"] not in titles[row["session"]]:
            titles[row["session"]].append(row["title"])
    return titles


async def prework_by_session(session_ids: list[int]) -> dict[int, list[int]]:
    """Module ids each session needs, ordered by due instant then id."""
    if not session_ids:
        return {}
    rows = await SessionPrework.select(
        SessionPrework.session, SessionPrework.module, SessionPrework.module.due_at.as_alias("due_at")
    ).where(SessionPrework.session.is_in(session_ids))
    rows.sort(key=lambda r: (r["due_at"], r["module"]))
    by_session: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_session[row["session"]].append(row["module"])
    return by_session


async def completions(person_ids: Iterable[int], module_ids: Iterable[int]) -> set[tuple[int, int]]:
    """{(module id, person id)} for every completion among the given people and modules."""
    person_ids, module_ids = sorted(set(person_ids)), sorted(set(module_ids))
    if not person_ids or not module_ids:
        return set()
    rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
        ModuleCompletion.person.is_in(person_ids) & ModuleCompletion.module.is_in(module_ids)
    )
    return {(row["module"], row["person"]) for row in rows}


async def module_rows(
    cohort_ids: list[int], person_id: int, *, now: datetime, module_id: int | None = None
) -> tuple[ModuleRow, ...]:
    if not cohort_ids:
        return ()
    where = AsyncModule.cohort.is_in(cohort_ids)
    if module_id is not None:
        where = where & (AsyncModule.id == module_id)
    rows = await AsyncModule.select(
        AsyncModule.id,
        AsyncModule.title,
        AsyncModule.minutes,
        AsyncModule.release_at,
        AsyncModule.due_at,
        AsyncModule.cohort.name.as_alias("cohort_name"),
    ).where(where)
    done = await completions([person_id], [row["id"] for row in rows])
    modules = [
        ModuleRow(
            id=row["id"],
            title=row["title"],
            minutes=row["minutes"],
            release_at=row["release_at"],
            due_at=row["due_at"],
            cohort_name=row["cohort_name"],
            done=(row["id"], person_id) in done,
            overdue=row["due_at"] < now and (row["id"], person_id) not in done,
        )
        for row in rows
    ]
    modules.sort(key=lambda m: (m.due_at, m.title, m.id))
    return tuple(modules)



def progress_of(modules: Iterable[ModuleRow]) -> Progress:
    modules = list(modules)
    return Progress(
        done_modules=sum(1 for m in modules if m.done),
        total_modules=len(modules),
        done_minutes=sum(m.minutes for m in modules if m.done),
        total_minutes=sum(m.minutes for m in modules),
    )

