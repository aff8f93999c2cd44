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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from models.tables import LiveSession, Membership
from server.db import fetch, in_list

CANCELLED_STATUS = LiveSession.Status.cancelled.value  # read once: an enum member's `.value` is a Python property


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
    return await fetch(
        "SELECT cohort, section FROM membership WHERE person = {} AND role = {} AND left_at IS NULL",
        person_id, Membership.Role.learner.value)


async def facilitated_cohorts(person_id: int) -> list[int]:
    rows = await fetch(
        "SELECT DISTINCT cohort FROM membership WHERE person = {} AND role = {} AND left_at IS NULL",
        person_id, Membership.Role.facilitator.value)
    return sorted(row["cohort"] for row in rows)


# Sessions a facilitator reaches: those they run and those of cohorts they facilitate, as a condition on `s` (the
# live_session row; `{}`: the person, the person, the facilitator role). A subquery: no read of the cohorts first.
FACILITATES = ("(s.facilitator = {} OR s.cohort IN (SELECT cohort FROM membership WHERE person = {} AND role = {}"
               " AND left_at IS NULL))")


def facilitates_args(person_id: int) -> tuple:
    return person_id, person_id, Membership.Role.facilitator.value


# The current learners of a session's section (`s` the session, `m` their membership, `p` the person); `{}`: the
# session, then the learner role.
SECTION_LEARNERS = (" FROM live_session s JOIN membership m ON m.section = s.section AND m.cohort = s.cohort"
                    " JOIN person p ON p.id = m.person WHERE s.id = {} AND m.role = {} AND m.left_at IS NULL")


async def section_learners(session_id: int) -> list[dict]:
    """id, name, email, timezone of every learner member of the session's section, by name."""
    return await fetch(f"SELECT p.id, p.name, p.email, p.timezone{SECTION_LEARNERS} ORDER BY LOWER(p.name), p.email",
                       session_id, Membership.Role.learner.value)


# The sessions a page lists, each with its units' titles in teaching order (one row per unit, none without):
# `{condition}` is SQL on `s` (the live_session row), `{}` for each argument. The titles came from a second query.
# A page that reads more of each session in the same statement adds `{columns}` and `{joins}` (`{order}` keeps
# the rows a join multiplies in a fixed order); `sessions_of` folds the rows back into sessions.
_SESSIONS = (
    "SELECT s.id, s.cohort, c.name AS cohort_name, s.section, x.key AS section_key, s.starts_at, s.ends_at,"
    " s.join_url, s.status, s.facilitator, p.name AS facilitator_name, u.title AS unit_title{columns}"
    " FROM live_session s LEFT JOIN cohort c ON c.id = s.cohort LEFT JOIN section x ON x.id = s.section"
    " LEFT JOIN person p ON p.id = s.facilitator"
    " LEFT JOIN session_unit su ON su.session = s.id LEFT JOIN unit u ON u.id = su.unit{joins}"
    " WHERE {condition} ORDER BY s.starts_at, s.id, su.position, su.id{order}"
)


def sessions_sql(condition: str, *, columns: str = "", joins: str = "", order: str = "") -> str:
    """The sessions query with `condition`; `columns` (", a.x AS y"), `joins` (" LEFT JOIN ...") and `order`
    (", m.id") extend it. Its `{}` arguments come in the text's order: those of `joins`, then of `condition`."""
    return (_SESSIONS.replace("{columns}", columns).replace("{joins}", joins).replace("{order}", order)
            .replace("{condition}", condition))


def sessions_of(rows: list[dict], prework: Mapping[int, tuple[ModuleRow, ...]] | None = None,
                ) -> list[tuple[SessionRow, list[dict]]]:
    """The sessions query's rows folded into sessions, in its order, each with all of its rows (one per unit,
    and per whatever else a page joined); `prework`: the modules each session needs, by session id."""
    prework = prework or {}
    sessions: dict[int, list[dict]] = {}  # by id, in the query's order; a session's rows follow one another
    for row in rows:
        sessions.setdefault(row["id"], []).append(row)
    folded = []
    for own in sessions.values():
        titles: list[str] = []
        for row in own:
            if row["unit_title"] is not None and row["unit_title"] not in titles:
                titles.append(row["unit_title"])
        row = own[0]
        folded.append((SessionRow(
            id=row["id"],
            cohort_id=row["cohort"],
            cohort_name=row["cohort_name"],
            section_id=row["section"],
            section_key=row["section_key"] or "",
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            join_url=row["join_url"] or "",
            cancelled=row["status"] == CANCELLED_STATUS,
            facilitator_id=row["facilitator"],
            facilitator_name=row["facilitator_name"] or "",
            units=tuple(titles),
            prework=prework.get(row["id"], ()),
        ), own))
    return folded


async def session_rows(condition: str | None, *args) -> tuple[SessionRow, ...]:
    """Sessions matching `condition` (SQL on `s`, the live_session row; None: no sessions), by start."""
    if condition is None:
        return ()
    return tuple(session for session, _ in sessions_of(await fetch(sessions_sql(condition), *args)))


async def prework_by_session(session_ids: list[int]) -> dict[int, list[int]]:
    """Module ids each session needs, ordered by due instant then id."""
    if not session_ids:
        return {}
    rows = await fetch(
        f"SELECT sp.session, sp.module FROM session_prework sp JOIN async_module am ON am.id = sp.module"
        f" WHERE sp.session IN ({in_list(session_ids)}) ORDER BY am.due_at, sp.module", *session_ids)
    by_session: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_session[row["session"]].append(row["module"])
    return by_session


async def completions(person_ids: Iterable[int], module_ids: Iterable[int]) -> set[tuple[int, int]]:
    """{(module id, person id)} for every completion among the given people and modules."""
    person_ids, module_ids = sorted(set(person_ids)), sorted(set(module_ids))
    if not person_ids or not module_ids:
        return set()
    rows = await fetch(
        f"SELECT module, person FROM module_completion WHERE person IN ({in_list(person_ids)})"
        f" AND module IN ({in_list(module_ids)})", *person_ids, *module_ids)
    return {(row["module"], row["person"]) for row in rows}


# The cohorts and sections a person is a learner in, as subqueries (`{}`: the person, then the learner role).
MY_COHORTS = "SELECT cohort FROM membership WHERE person = {} AND role = {} AND left_at IS NULL"
MY_SECTIONS = "SELECT section FROM membership WHERE person = {} AND role = {} AND left_at IS NULL"


async def module_rows(
    cohort_ids: list[int], person_id: int, *, now: datetime, module_id: int | None = None
) -> tuple[ModuleRow, ...]:
    """The modules of these cohorts (or just `module_id` among them) with the person's status."""
    if not cohort_ids:
        return ()
    return await _module_rows(f"am.cohort IN ({in_list(cohort_ids)})", person_id, *cohort_ids, now=now,
                              module_id=module_id)


async def learner_module_rows(person_id: int, *, now: datetime) -> tuple[ModuleRow, ...]:
    """The modules of every cohort the person is a learner in, with their status (one query)."""
    return await _module_rows(f"am.cohort IN ({MY_COHORTS})", person_id, person_id, Membership.Role.learner.value,
                              now=now, module_id=None)


async def _module_rows(condition: str, person_id: int, *args, now: datetime,
                       module_id: int | None) -> tuple[ModuleRow, ...]:
    """`condition` on `am` (the async_module row) with its `{}` arguments `args`; `person_id`: whose status."""
    one = " AND am.id = {}" if module_id is not None else ""
    rows = await fetch(
        f"SELECT am.id, am.title, am.minutes, am.release_at, am.due_at, c.name AS cohort_name, mc.id AS done"
        f" FROM async_module am LEFT JOIN cohort c ON c.id = am.cohort"
        f" LEFT JOIN module_completion mc ON mc.module = am.id AND mc.person = {{}}"
        f" WHERE {condition}{one}",
        person_id, *args, *([module_id] if module_id is not None else []))
    return tuple(sorted((module_of(row, now) for row in rows), key=module_order))


def module_of(row: dict, now: datetime) -> ModuleRow:
    """A module row (id, title, minutes, release_at, due_at, cohort_name, and `done`: the completion's id or
    None) as the learner sees it at `now`."""
    return ModuleRow(
        id=row["id"],
        title=row["title"],
        minutes=row["minutes"],
        release_at=row["release_at"],
        due_at=row["due_at"],
        cohort_name=row["cohort_name"],
        done=row["done"] is not None,
        overdue=row["due_at"] < now and row["done"] is None,
    )


def module_order(module: ModuleRow) -> tuple:
    """How modules are listed: by due instant, then title."""
    return module.due_at, module.title, module.id


def progress_of(modules: Iterable[ModuleRow]) -> Progress:
    modules = list(modules)
    return Progress(
        done_modules=sum(1 for m in modules if m.done),
        total_modules=len(modules),
        done_minutes=sum(m.minutes for m in modules if m.done),
        total_minutes=sum(m.minutes for m in modules),
    )

