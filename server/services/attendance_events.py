"""The audit trail of attendance and completions: one appended AttendanceEvent per change, never updated or
deleted by the app, read back as a learner's record and as CSV.

Every service that changes an Attendance or ModuleCompletion row calls `record_change` in the same
transaction, after locking the session's (or module's) row on PostgreSQL with `lock_for_change`, so two
concurrent writers see each other's change and each event's `from_state` is the state it really replaced
(on SQLite the IMMEDIATE write transaction already serialises writers). `replay` rebuilds the current state
from the events alone; tests compare it with the tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from piccolo.engine import engine_finder

from models.engine import is_sqlite
from models.tables import AttendanceEvent, LiveSession, Membership, Person
from server.db import is_row_id
from server.services.clock import check_aware

SOURCE_WORDS = {
    AttendanceEvent.Source.manual.value: "by hand",
    AttendanceEvent.Source.checkin.value: "self check-in",
    AttendanceEvent.Source.meeting_report.value: "meeting report import",
    AttendanceEvent.Source.automatic.value: "automatic (grace period over)",
    AttendanceEvent.Source.content.value: "content statement",
    AttendanceEvent.Source.earlier.value: "recorded before the trail",
}
DONE = "done"  # a completion's state; "" = not done


@dataclass(frozen=True)
class Change:
    """One change to write: the learner's state on a session (attendance) or a module (completion)."""

    person: int
    from_state: str
    to_state: str
    session: int | None = None
    module: int | None = None
    note: str = ""


@dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    what: str  # "live session, section a", or the module's title
    starts_at: datetime | None  # the session's start, for attendance events
    from_state: str
    to_state: str
    source: str
    actor_name: str
    at: datetime
    note: str
    cohort_name: str

    @property
    def how(self) -> str:
        return SOURCE_WORDS.get(self.source, self.source)


async def lock_for_change(*, session: int | None = None, module: int | None = None) -> None:
    """On PostgreSQL, hold the session's (or module's) row until the transaction ends: writers of its marks
    take turns, so every event's from_state is what it replaced. SQLite's IMMEDIATE transaction does this."""
    if is_sqlite(engine_finder()):
        return
    table, row_id = ("live_session", session) if session is not None else ("async_module", module)
    await LiveSession.raw(f'SELECT "id" FROM "{table}" WHERE "id" = {{}} FOR UPDATE', row_id)


async def record_change(changes: Iterable[Change], *, source: str, actor: int | None, now: datetime) -> int:
    """Append one event per real change (from != to); returns how many. Call inside the write transaction."""
    check_aware(now)
    changes = [c for c in changes if c.from_state != c.to_state]
    if not changes:
        return 0
    if source not in SOURCE_WORDS:
        raise ValueError(f"unknown event source {source!r}")
    actor_name = ""
    if actor is not None:
        row = await Person.select(Person.name).where(Person.id == actor).first()
        actor_name = row["name"] if row else ""
    await AttendanceEvent.insert(*[
        AttendanceEvent(
            kind=(AttendanceEvent.Kind.attendance if c.session is not None else AttendanceEvent.Kind.completion).value,
            session=c.session, module=c.module, person=c.person, from_state=c.from_state, to_state=c.to_state,
            source=source, actor=actor, actor_name=actor_name, at=now, note=c.note[:300],
        )
        for c in changes
    ])
    return len(changes)


async def learner_events(person_id: int, cohort_ids: list[int] | None) -> tuple[EventRow, ...]:
    """Every event of one learner, oldest first; only those of `cohort_ids` unless None (a designer)."""
    where = AttendanceEvent.person == person_id
    if cohort_ids is not None:
        if not cohort_ids:
            return ()
        where = where & (AttendanceEvent.session.cohort.is_in(cohort_ids)
                         | AttendanceEvent.module.cohort.is_in(cohort_ids))
    rows = await AttendanceEvent.select(
        AttendanceEvent.id, AttendanceEvent.kind, AttendanceEvent.from_state, AttendanceEvent.to_state,
        AttendanceEvent.source, AttendanceEvent.actor_name, AttendanceEvent.at, AttendanceEvent.note,
        AttendanceEvent.session.starts_at.as_alias("starts_at"),
        AttendanceEvent.session.cohort.name.as_alias("session_cohort"),
        AttendanceEvent.session.section.key.as_alias("section_key"),
        AttendanceEvent.module.title.as_alias("module_title"),
        AttendanceEvent.module.cohort.name.as_alias("module_cohort"),
    ).where(where).order_by(AttendanceEvent.id)
    return tuple(
        EventRow(
            id=row["id"], kind=row["kind"],
            what=(f"live session, section {(row['section_key'] or '').rsplit('/', 1)[-1]}"
                  if row["kind"] == AttendanceEvent.Kind.attendance.value else (row["module_title"] or "")),
            starts_at=row["starts_at"], from_state=row["from_state"], to_state=row["to_state"],
            source=row["source"], actor_name=row["actor_name"], at=row["at"], note=row["note"],
            cohort_name=row["session_cohort"] or row["module_cohort"] or "",
        )
        for row in rows
    )


def events_csv(events: Iterable[EventRow], learner_email: str) -> str:
    """The trail as CSV (UTC instants in ISO 8601), one row per event, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["event", "at_utc", "learner", "cohort", "kind", "what", "session_starts_utc", "from", "to",
                     "how", "by", "note"])
    for e in events:
        writer.writerow([
            e.id, e.at.isoformat(), learner_email, e.cohort_name, e.kind, e.what,
            e.starts_at.isoformat() if e.starts_at else "", state_words(e.kind, e.from_state),
            state_words(e.kind, e.to_state), e.how, e.actor_name or "Cadence", e.note,
        ])
    return out.getvalue()


async def replay() -> dict[tuple[str, int, int], str]:
    """The current state rebuilt from the events alone: (kind, session or module id, person) -> state, leaving
    out keys whose last state is "" (not marked / not done)."""
    state: dict[tuple[str, int, int], str] = {}
    rows = await AttendanceEvent.select(
        AttendanceEvent.kind, AttendanceEvent.session, AttendanceEvent.module, AttendanceEvent.person,
        AttendanceEvent.to_state,
    ).order_by(AttendanceEvent.id)
    for row in rows:
        target = row["session"] if row["kind"] == AttendanceEvent.Kind.attendance.value else row["module"]
        state[(row["kind"], target, row["person"])] = row["to_state"]
    return {key: value for key, value in state.items() if value}


def state_words(kind: str, state: str) -> str:
    if state:
        return state
    return "not marked" if kind == AttendanceEvent.Kind.attendance.value else "not done"


@dataclass(frozen=True)
class LearnerRecord:
    person_id: int
    name: str
    email: str
    timezone: str
    cohorts: tuple[str, ...]
    events: tuple[EventRow, ...]


async def learner_record(person_id: int, *, viewer_id: int, designer: bool) -> LearnerRecord | None:
    """A learner's trail as a designer (every cohort) or a facilitator sees it (only cohorts they facilitate or
    run sessions of); None when the viewer may not see this person as a learner at all."""
    if not is_row_id(person_id):
        return None
    person = await Person.select(Person.id, Person.name, Person.email, Person.timezone).where(
        Person.id == person_id).first()
    if person is None:
        return None
    memberships = await Membership.select(Membership.cohort, Membership.cohort.name.as_alias("name")).where(
        (Membership.person == person_id) & (Membership.role == Membership.Role.learner.value))
    cohorts = {m["cohort"]: m["name"] for m in memberships}
    if designer:
        allowed = None
    else:
        mine = await Membership.select(Membership.cohort).where(
            (Membership.person == viewer_id) & (Membership.role == Membership.Role.facilitator.value))
        runs = await LiveSession.select(LiveSession.cohort).where(LiveSession.facilitator == viewer_id)
        allowed = sorted(set(cohorts) & ({m["cohort"] for m in mine} | {r["cohort"] for r in runs}))
        if not allowed:
            return None
        cohorts = {c: n for c, n in cohorts.items() if c in allowed}
    events = await learner_events(person_id, allowed)
    if not cohorts and not events:
        return None
    return LearnerRecord(person_id=person["id"], name=person["name"], email=person["email"],
                         timezone=person["timezone"], cohorts=tuple(sorted(cohorts.values())), events=events)
