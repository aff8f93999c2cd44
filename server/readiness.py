"""What the learner, facilitator and manager pages show, assembled from the tables.

Plain async functions over Piccolo with no HTTP in them, so tests call them on a real database. Every instant
stays in UTC here; the templates convert it for the person who looks. Each function takes `now` so that
"upcoming", "overdue" and "past" are decided in one place and tests can pin the clock.

Words used throughout:
- a learner's *prework* for a session: the modules linked to that session by SessionPrework;
- *ready*: every prework module of the session is marked done by the learner (no prework = ready);
- *overdue*: a module whose due instant has passed and that the learner has not marked done.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from models.tables import (
    AsyncModule,
    Attendance,
    LiveSession,
    Membership,
    ModuleCompletion,
    SessionPrework,
    SessionUnit,
)

ATTENDANCE_CHOICES = tuple(status.value for status in Attendance.Status)
ATTENDED = frozenset({Attendance.Status.present.value, Attendance.Status.late.value})


def utc_now() -> datetime:
    """The clock the pages read: one place, so a test can pin it to the fixed instants of its data."""
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------------
# What the pages receive


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


@dataclass(frozen=True)
class LearnerSchedule:
    sessions: tuple[SessionRow, ...]  # all sessions of my sections, by start
    next_session: SessionRow | None  # the first scheduled session that has not ended yet
    modules: tuple[ModuleRow, ...]  # by due, then title
    progress: Progress


@dataclass(frozen=True)
class RosterRow:
    person_id: int
    name: str
    email: str
    timezone: str
    prework_done: int
    prework_total: int
    attendance: str | None  # one of ATTENDANCE_CHOICES, or None when not marked yet
    marked_by_name: str | None
    marked_at: datetime | None


@dataclass(frozen=True)
class Roster:
    session: SessionRow
    rows: tuple[RosterRow, ...]  # by name


@dataclass(frozen=True)
class LearnerReadiness:
    person_id: int
    name: str
    email: str
    missing: tuple[str, ...]  # titles of prework modules not done

    @property
    def ready(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class SessionReadiness:
    session: SessionRow
    learners: tuple[LearnerReadiness, ...]  # my reports in the session's section, by name
    prework_titles: tuple[str, ...]

    @property
    def ready_count(self) -> int:
        return sum(1 for learner in self.learners if learner.ready)

    @property
    def not_ready(self) -> tuple[LearnerReadiness, ...]:
        return tuple(learner for learner in self.learners if not learner.ready)

    @property
    def percent_ready(self) -> int:
        return round(100 * self.ready_count / len(self.learners)) if self.learners else 0


@dataclass(frozen=True)
class CohortRates:
    """Rates over a manager's reports in one cohort.

    completion: modules done out of modules due so far (each report × each module due before now);
    overall: modules done out of all modules; attendance: present or late out of all marked attendance for
    sessions that have started.
    """

    cohort_id: int
    cohort_name: str
    reports: int
    due_so_far: int
    done_of_due: int
    total: int
    done_total: int
    attendance_marked: int
    attended: int

    @property
    def completion_percent(self) -> int | None:
        return round(100 * self.done_of_due / self.due_so_far) if self.due_so_far else None

    @property
    def overall_percent(self) -> int | None:
        return round(100 * self.done_total / self.total) if self.total else None

    @property
    def attendance_percent(self) -> int | None:
        return round(100 * self.attended / self.attendance_marked) if self.attendance_marked else None


@dataclass(frozen=True)
class ManagerReadiness:
    sessions: tuple[SessionReadiness, ...]  # upcoming sessions holding at least one report, by start
    cohorts: tuple[CohortRates, ...]  # by name


# ---------------------------------------------------------------------------------------------------------
# Learners


async def learner_schedule(person_id: int, *, now: datetime) -> LearnerSchedule:
    """The learner's sessions (of their own sections), modules (of their own cohorts) and progress."""
    _check_aware(now)
    memberships = await _learner_memberships(person_id)
    cohort_ids = sorted({m["cohort"] for m in memberships})
    section_ids = sorted({m["section"] for m in memberships if m["section"] is not None})
    modules = await _module_rows(cohort_ids, person_id, now=now)
    by_id = {module.id: module for module in modules}
    sessions = await _session_rows(LiveSession.section.is_in(section_ids) if section_ids else None)
    prework = await _prework_by_session([s.id for s in sessions])
    sessions = tuple(
        _with_prework(session, [by_id[m] for m in prework.get(session.id, ()) if m in by_id]) for session in sessions
    )
    upcoming = [s for s in sessions if not s.cancelled and s.ends_at > now]
    return LearnerSchedule(
        sessions=sessions,
        next_session=upcoming[0] if upcoming else None,
        modules=modules,
        progress=_progress(modules),
    )


async def learner_module(person_id: int, module_id: int, *, now: datetime) -> ModuleRow | None:
    """One module as the learner sees it, or None when it is not in one of their cohorts."""
    cohort_ids = sorted({m["cohort"] for m in await _learner_memberships(person_id)})
    rows = await _module_rows(cohort_ids, person_id, now=now, module_id=module_id)
    return rows[0] if rows else None


async def learner_progress(person_id: int, *, now: datetime) -> Progress:
    cohort_ids = sorted({m["cohort"] for m in await _learner_memberships(person_id)})
    return _progress(await _module_rows(cohort_ids, person_id, now=now))


async def set_module_done(person_id: int, module_id: int, done: bool, *, now: datetime) -> ModuleRow | None:
    """Mark a module done (idempotent) or undo it. None, and nothing written, when it is not the learner's."""
    if await learner_module(person_id, module_id, now=now) is None:
        return None
    if done:
        await ModuleCompletion.insert(
            ModuleCompletion(module=module_id, person=person_id, completed_at=now)
        ).on_conflict(target=(ModuleCompletion.module, ModuleCompletion.person), action="DO NOTHING")
    else:
        await ModuleCompletion.delete().where(
            (ModuleCompletion.module == module_id) & (ModuleCompletion.person == person_id)
        )
    return await learner_module(person_id, module_id, now=now)


# ---------------------------------------------------------------------------------------------------------
# Facilitators


async def facilitator_sessions(person_id: int | None, *, now: datetime) -> tuple[SessionRow, ...]:
    """Sessions not yet ended that the person runs, or of cohorts they facilitate; None = every session."""
    _check_aware(now)
    where = LiveSession.ends_at > now
    if person_id is not None:
        cohorts = await _facilitated_cohorts(person_id)
        mine = LiveSession.facilitator == person_id
        where = where & ((mine | LiveSession.cohort.is_in(cohorts)) if cohorts else mine)
    return await _session_rows(where)


async def may_run_session(person_id: int, session_id: int) -> bool:
    """A facilitator may open a session's roster when they run it or facilitate its cohort."""
    row = await LiveSession.select(LiveSession.cohort, LiveSession.facilitator).where(
        LiveSession.id == session_id
    ).first()
    if row is None:
        return False
    return row["facilitator"] == person_id or row["cohort"] in await _facilitated_cohorts(person_id)


async def session_roster(session_id: int) -> Roster | None:
    """Each learner of the session's section with prework done (n of m) and attendance; None if no session."""
    sessions = await _session_rows(LiveSession.id == session_id)
    if not sessions:
        return None
    session = sessions[0]
    learners = await _section_learners(session_id)
    prework = (await _prework_by_session([session_id])).get(session_id, [])
    done = await _completions([p["id"] for p in learners], prework)
    marks = {
        row["person"]: row
        for row in await Attendance.select(
            Attendance.person,
            Attendance.status,
            Attendance.marked_at,
            Attendance.marked_by.name.as_alias("marked_by_name"),
        ).where(Attendance.session == session_id)
    }
    rows = tuple(
        RosterRow(
            person_id=p["id"],
            name=p["name"],
            email=p["email"],
            timezone=p["timezone"],
            prework_done=sum(1 for module in prework if (module, p["id"]) in done),
            prework_total=len(prework),
            attendance=marks[p["id"]]["status"] if p["id"] in marks else None,
            marked_by_name=marks[p["id"]]["marked_by_name"] if p["id"] in marks else None,
            marked_at=marks[p["id"]]["marked_at"] if p["id"] in marks else None,
        )
        for p in learners
    )
    return Roster(session=session, rows=rows)


async def roster_row(session_id: int, learner_id: int) -> RosterRow | None:
    roster = await session_roster(session_id)
    if roster is None:
        return None
    return next((row for row in roster.rows if row.person_id == learner_id), None)


async def mark_attendance(
    session_id: int, learner_id: int, status: str, *, marked_by: int, now: datetime
) -> RosterRow | None:
    """Record one learner's attendance (one row per session and learner, replaced atomically).

    Returns None, writing nothing, when the learner is not in the session's section (checked first, so an
    outsider is "not found" whatever the status); raises ValueError for an unknown status.
    """
    _check_aware(now)
    if learner_id not in {p["id"] for p in await _section_learners(session_id)}:
        return None
    if status not in ATTENDANCE_CHOICES:
        raise ValueError(f"status: expected one of {', '.join(ATTENDANCE_CHOICES)}, got {status!r}")
    # INSERT .. ON CONFLICT DO UPDATE on the unique (session, person) index: two facilitators marking at once
    # leave one row with the last status, never a duplicate or a lost insert.
    await Attendance.insert(
        Attendance(session=session_id, person=learner_id, status=status, marked_by=marked_by, marked_at=now)
    ).on_conflict(
        target=(Attendance.session, Attendance.person),
        action="DO UPDATE",
        values=[Attendance.status, Attendance.marked_by, Attendance.marked_at],
    )
    return await roster_row(session_id, learner_id)


# ---------------------------------------------------------------------------------------------------------
# Managers


async def manager_readiness(manager_id: int, *, now: datetime) -> ManagerReadiness:
    """Readiness of the manager's reports (Membership.manager = the manager) for upcoming sessions, and rates."""
    _check_aware(now)
    reports = await Membership.select(
        Membership.cohort,
        Membership.section,
        Membership.cohort.name.as_alias("cohort_name"),
        Membership.person.id.as_alias("person_id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
    ).where((Membership.manager == manager_id) & (Membership.role == Membership.Role.learner.value))
    if not reports:
        return ManagerReadiness(sessions=(), cohorts=())
    person_ids = sorted({r["person_id"] for r in reports})
    cohort_ids = sorted({r["cohort"] for r in reports})
    section_ids = sorted({r["section"] for r in reports if r["section"] is not None})

    upcoming = ()
    if section_ids:
        upcoming = await _session_rows(
            LiveSession.section.is_in(section_ids)
            & (LiveSession.starts_at > now)
            & (LiveSession.status == LiveSession.Status.scheduled.value)
        )
    prework = await _prework_by_session([s.id for s in upcoming])
    modules = await AsyncModule.select(
        AsyncModule.id, AsyncModule.cohort, AsyncModule.title, AsyncModule.due_at
    ).where(AsyncModule.cohort.is_in(cohort_ids))
    module_by_id = {m["id"]: m for m in modules}
    done = await _completions(person_ids, [m["id"] for m in modules])

    sessions = []
    for session in upcoming:
        needed = prework.get(session.id, [])
        learners = sorted(
            (r for r in reports if r["section"] is not None and _section_of(session, r)),
            key=lambda r: (r["name"].casefold(), r["email"]),
        )
        sessions.append(
            SessionReadiness(
                session=session,
                prework_titles=tuple(module_by_id[m]["title"] for m in needed),
                learners=tuple(
                    LearnerReadiness(
                        person_id=r["person_id"],
                        name=r["name"],
                        email=r["email"],
                        missing=tuple(module_by_id[m]["title"] for m in needed if (m, r["person_id"]) not in done),
                    )
                    for r in learners
                ),
            )
        )

    marks = await _attendance_marks(person_ids, cohort_ids, now=now)
    cohorts = []
    for cohort_id in cohort_ids:
        people = sorted({r["person_id"] for r in reports if r["cohort"] == cohort_id})
        cohort_modules = [m for m in modules if m["cohort"] == cohort_id]
        due = [m for m in cohort_modules if m["due_at"] <= now]
        statuses = [status for (cohort, person), status in marks if cohort == cohort_id and person in people]
        cohorts.append(
            CohortRates(
                cohort_id=cohort_id,
                cohort_name=next(r["cohort_name"] for r in reports if r["cohort"] == cohort_id),
                reports=len(people),
                due_so_far=len(due) * len(people),
                done_of_due=sum(1 for m in due for p in people if (m["id"], p) in done),
                total=len(cohort_modules) * len(people),
                done_total=sum(1 for m in cohort_modules for p in people if (m["id"], p) in done),
                attendance_marked=len(statuses),
                attended=sum(1 for status in statuses if status in ATTENDED),
            )
        )
    cohorts.sort(key=lambda c: c.cohort_name.casefold())
    return ManagerReadiness(sessions=tuple(sessions), cohorts=tuple(cohorts))


CSV_COLUMNS = ("session", "start_utc", "learner", "email", "ready", "missing")


def readiness_csv(readiness: ManagerReadiness) -> str:
    """One line per (upcoming session, report): the CSV the manager downloads. Missing titles joined by '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in readiness.sessions:
        label = session_label(item.session)
        start = item.session.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for learner in item.learners:
            writer.writerow(
                [label, start, learner.name, learner.email, "yes" if learner.ready else "no", "; ".join(learner.missing)]
            )
    return buffer.getvalue()


def session_label(session: SessionRow) -> str:
    """`Support Atlantic - March 2027 (section a)` — what a person calls a session besides its time."""
    section = session.section_key.rsplit("/", 1)[-1]
    return f"{session.cohort_name} (section {section})" if section else session.cohort_name


# ---------------------------------------------------------------------------------------------------------
# Queries shared by the above


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC instant")


async def _learner_memberships(person_id: int) -> list[dict]:
    return await Membership.select(Membership.cohort, Membership.section).where(
        (Membership.person == person_id) & (Membership.role == Membership.Role.learner.value)
    )


async def _facilitated_cohorts(person_id: int) -> list[int]:
    rows = await Membership.select(Membership.cohort).where(
        (Membership.person == person_id) & (Membership.role == Membership.Role.facilitator.value)
    )
    return sorted({row["cohort"] for row in rows})


async def _section_learners(session_id: int) -> list[dict]:
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
    )
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["email"]))


async def _session_rows(where) -> tuple[SessionRow, ...]:
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


async def _prework_by_session(session_ids: list[int]) -> dict[int, list[int]]:
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


async def _completions(person_ids: Iterable[int], module_ids: Iterable[int]) -> set[tuple[int, int]]:
    """{(module id, person id)} for every completion among the given people and modules."""
    person_ids, module_ids = sorted(set(person_ids)), sorted(set(module_ids))
    if not person_ids or not module_ids:
        return set()
    rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
        ModuleCompletion.person.is_in(person_ids) & ModuleCompletion.module.is_in(module_ids)
    )
    return {(row["module"], row["person"]) for row in rows}


async def _module_rows(
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
    done = await _completions([person_id], [row["id"] for row in rows])
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


def _with_prework(session: SessionRow, prework: list[ModuleRow]) -> SessionRow:
    return SessionRow(**{**session.__dict__, "prework": tuple(prework)})


def _progress(modules: Iterable[ModuleRow]) -> Progress:
    modules = list(modules)
    return Progress(
        done_modules=sum(1 for m in modules if m.done),
        total_modules=len(modules),
        done_minutes=sum(m.minutes for m in modules if m.done),
        total_minutes=sum(m.minutes for m in modules),
    )


def _section_of(session: SessionRow, report: dict) -> bool:
    return report["cohort"] == session.cohort_id and report["section"] == session.section_id


async def _attendance_marks(person_ids: list[int], cohort_ids: list[int], *, now: datetime) -> list[tuple]:
    """[((cohort id, person id), status)] for marked attendance of sessions that have started."""
    rows = await Attendance.select(
        Attendance.person, Attendance.status, Attendance.session.cohort.as_alias("cohort")
    ).where(
        Attendance.person.is_in(person_ids)
        & Attendance.session.cohort.is_in(cohort_ids)
        & (Attendance.session.starts_at <= now)
    )
    return [((row["cohort"], row["person"]), row["status"]) for row in rows]

