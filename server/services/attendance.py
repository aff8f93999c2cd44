"""Facilitators: the sessions they run, each session's roster (prework done, attendance), marking attendance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.tables import Attendance, AttendanceEvent, LiveSession, Membership
from server.db import (
    counts_beside,
    fetch,
    fetch_one,
    name_or_email_contains,
    page_with_counts,
    write_transaction,
)
from server.services.attendance_events import Change, lock_for_change, record_change
from server.services.clock import check_aware
from server.services.materials import RECENT_DAYS
from server.services.schedule import (
    FACILITATES,
    SECTION_LEARNERS,
    SessionRow,
    facilitates_args,
    section_learners,
    session_rows,
)

ATTENDANCE_CHOICES = tuple(status.value for status in Attendance.Status)
# A program's attendance settings: (field, label, low, high, default); the defaults are the columns'.
ATTENDANCE_SETTINGS = (
    ("checkin_opens_minutes", "Check-in opens before the start (minutes)", 0, 120, 10),
    ("checkin_closes_minutes", "Check-in closes after the start (minutes)", 0, 240, 15),
    ("late_after_minutes", "Late after the start (minutes)", 0, 240, 5),
    ("present_share_percent", "Present: share of the session in a meeting report (%)", 1, 100, 50),
    ("absent_after_minutes", "Unmarked learners absent this long after the end (minutes, 0 = never)", 0, 10080, 0),
)


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
    rows: tuple[RosterRow, ...]  # by name: every learner, or one page of those matching `query`
    total: int = 0  # learners in the section
    matching: int = 0  # of them, those matching `query` (all when there is none)
    page: int = 1
    pages: int = 1
    query: str = ""

    @property
    def first(self) -> int:
        """The position (from 1) of the first row shown among the matching learners."""
        return (self.page - 1) * ROSTER_PAGE + 1 if self.rows else 0


ROSTER_PAGE = 50  # learners per page of a big section's roster: a page renders in the same time at any size



async def facilitator_sessions(person_id: int | None, *, now: datetime) -> tuple[SessionRow, ...]:
    """Sessions not yet ended that the person runs, or of cohorts they facilitate; None = every session."""
    check_aware(now)
    return await _ending_after(person_id, now)


async def upcoming_and_recent(person_id: int | None, *,
                              now: datetime) -> tuple[tuple[SessionRow, ...], tuple[SessionRow, ...]]:
    """The facilitator's page in one query: `facilitator_sessions` (not yet ended) and the sessions that ended
    in the last RECENT_DAYS (where materials are left after a session), both by start; None = every session."""
    check_aware(now)
    sessions = await _ending_after(person_id, now - timedelta(days=RECENT_DAYS))
    return tuple(s for s in sessions if s.ends_at > now), tuple(s for s in sessions if s.ends_at <= now)


async def _ending_after(person_id: int | None, instant: datetime) -> tuple[SessionRow, ...]:
    """Sessions ending after `instant` that the person runs or whose cohort they facilitate (None: every one)."""
    if person_id is None:
        return await session_rows("s.ends_at > {}", instant)
    return await session_rows(f"s.ends_at > {{}} AND {FACILITATES}", instant, *facilitates_args(person_id))


# Whether a person runs session `s` or facilitates its cohort, as columns (`{}`: the person, the person, the
# facilitator role): a page that reads the session checks access in the same statement.
RUNS_COLUMNS = (", s.facilitator = {} AS runs, EXISTS (SELECT 1 FROM membership fm WHERE fm.cohort = s.cohort"
                " AND fm.person = {} AND fm.role = {} AND fm.left_at IS NULL) AS facilitates")


def runs_args(person_id: int) -> tuple:
    return person_id, person_id, Membership.Role.facilitator.value


def may_run(row: dict) -> bool:
    """From a row read with RUNS_COLUMNS."""
    return bool(row["runs"] or row["facilitates"])


async def may_run_session(person_id: int, session_id: int) -> bool:
    """A facilitator may open a session's roster when they run it or facilitate its cohort."""
    row = await fetch_one(f"SELECT {RUNS_COLUMNS[2:]} FROM live_session s WHERE s.id = {{}}",
                          *runs_args(person_id), session_id)
    return row is not None and may_run(row)


async def session_roster(session_id: int, *, page: int | None = None, query: str = "") -> Roster | None:
    """Each learner of the session's section with prework done (n of m) and attendance; None if no session.

    With `page`, only that page (ROSTER_PAGE learners by name, the last page when past it) of the learners
    whose name or email contains `query` (any case); without, every learner."""
    sessions = await session_rows("s.id = {}", session_id)
    if not sessions:
        return None
    return await roster_of(sessions[0], page=page, query=query)


async def roster_of(session: SessionRow, *, page: int | None = None, query: str = "") -> Roster:
    """`session_roster` of a session already read (one query: the learners with their prework and marks)."""
    query = query.strip()
    learners, total, matching, page_no = await _section_learners_page(session.id, page, query)
    pages = max(1, -(-matching // ROSTER_PAGE)) if page is not None else 1
    rows = tuple(
        RosterRow(
            person_id=p["id"],
            name=p["name"],
            email=p["email"],
            timezone=p["timezone"],
            prework_done=int(p["prework_done"]),
            prework_total=int(p["prework_total"]),
            attendance=p["status"],
            marked_by_name=p["marked_by_name"],
            marked_at=p["marked_at"],
        )
        for p in learners
    )
    return Roster(session=session, rows=rows, total=total, matching=matching, page=page_no, pages=pages,
                  query=query)


async def _section_learners_page(session_id: int, page: int | None, query: str) -> tuple[list[dict], int, int, int]:
    """(learners, total, matching, page): with `page`, that page of the section's learners whose name or email
    contains `query`, by name (the last page when past it); without, all of them. Sorted, counted and cut in
    SQL, so a page reads its own rows whatever the section's size (`server.db.page_with_counts`)."""
    learner = Membership.Role.learner.value
    matches, args = name_or_email_contains(query, "p")
    counts = f"SELECT COUNT(*) AS total, SUM(CASE WHEN {matches} THEN 1 ELSE 0 END) AS matching{SECTION_LEARNERS}"
    count_args = (*args, session_id, learner)

    async def read(number: int | None) -> list[dict]:
        cut = f" LIMIT {ROSTER_PAGE} OFFSET {(number - 1) * ROSTER_PAGE}" if number is not None else ""
        # the page's learners (`r`), each with how much of the session's prework they did and their mark: read
        # with them (they were two more queries)
        return await fetch(
            f"WITH numbers AS ({counts}) SELECT r.id, r.name, r.email, r.timezone, r.total, r.matching,"
            " (SELECT COUNT(*) FROM session_prework sp WHERE sp.session = {}) AS prework_total,"
            " (SELECT COUNT(*) FROM session_prework sp JOIN module_completion mc ON mc.module = sp.module"
            " WHERE sp.session = {} AND mc.person = r.id) AS prework_done,"
            " a.status, a.marked_at, mb.name AS marked_by_name"
            f" FROM (SELECT p.id, p.name, p.email, p.timezone, {counts_beside('total', 'matching')}"
            f"{SECTION_LEARNERS} AND {matches} ORDER BY LOWER(p.name), p.email{cut}) r"
            " LEFT JOIN attendance a ON a.session = {} AND a.person = r.id LEFT JOIN person mb ON mb.id = a.marked_by"
            " ORDER BY LOWER(r.name), r.email",
            *count_args, session_id, session_id, session_id, learner, *args, session_id)

    rows, numbers, number = await page_with_counts(read, counts, count_args, page, ROSTER_PAGE)
    return rows, int(numbers["total"] or 0), int(numbers["matching"] or 0), number


async def roster_row(session_id: int, learner_id: int) -> RosterRow | None:
    roster = await session_roster(session_id)
    if roster is None:
        return None
    return next((row for row in roster.rows if row.person_id == learner_id), None)


async def mark_attendance(
    session_id: int, learner_id: int, status: str, *, marked_by: int, now: datetime
) -> RosterRow | None:
    """Record one learner's attendance by hand (one row per session and learner, replaced atomically), with
    its event in the trail when the status changes.

    Returns None, writing nothing, when the learner is not in the session's section (checked first, so an
    outsider is "not found" whatever the status); raises ValueError for an unknown status.
    """
    check_aware(now)
    async with write_transaction():
        if learner_id not in {p["id"] for p in await section_learners(session_id)}:
            return None
        if status not in ATTENDANCE_CHOICES:
            raise ValueError(f"status: expected one of {', '.join(ATTENDANCE_CHOICES)}, got {status!r}")
        await write_marks(session_id, {learner_id: status}, source=AttendanceEvent.Source.manual.value,
                          actor=marked_by, now=now)
        return await roster_row(session_id, learner_id)


async def write_marks(session_id: int, marks: dict[int, str], *, source: str, actor: int | None, now: datetime,
                      notes: dict[int, str] | None = None, only_unmarked: bool = False) -> dict[int, str]:
    """Set learners' attendance at one session and append an event for each real change; call inside a write
    transaction, with the learners already checked. `only_unmarked` leaves every existing mark as it is (self
    check-in, automatic absences). Returns learner -> new status for the marks that changed."""
    if not marks:
        return {}
    await lock_for_change(session=session_id)
    current = {
        row["person"]: row["status"]
        for row in await Attendance.select(Attendance.person, Attendance.status).where(
            (Attendance.session == session_id) & Attendance.person.is_in(sorted(marks))
        )
    }
    changed = {
        person: status for person, status in marks.items()
        if current.get(person, "") != status and not (only_unmarked and person in current)
    }
    for person, status in sorted(changed.items()):
        # INSERT .. ON CONFLICT DO UPDATE on the unique (session, person) index: never a duplicate row.
        await Attendance.insert(
            Attendance(session=session_id, person=person, status=status, marked_by=actor, marked_at=now)
        ).on_conflict(
            target=(Attendance.session, Attendance.person),
            action="DO UPDATE",
            values=[Attendance.status, Attendance.marked_by, Attendance.marked_at],
        )
    await record_change(
        [Change(person=person, session=session_id, from_state=current.get(person, ""), to_state=status,
                note=(notes or {}).get(person, "")) for person, status in sorted(changed.items())],
        source=source, actor=actor, now=now,
    )
    return changed


AUTOMATIC_LOOKBACK = timedelta(days=7)  # sessions that ended longer ago are left alone (see mark_absent_after_grace)


async def mark_absent_after_grace(*, now: datetime) -> int:
    """Mark absent every learner with no mark on a session whose program's grace period (absent_after_minutes
    after its end; 0 = off) is over; returns how many marks were written. Idempotent (an existing mark is never
    touched, so two workers running it at once, or twice, write each mark once) and never marks a learner
    who joined the cohort after the session started. Only sessions that ended within AUTOMATIC_LOOKBACK are
    considered, so turning the setting on does not rewrite a program's old history."""
    check_aware(now)
    sessions = await LiveSession.select(
        LiveSession.id, LiveSession.cohort, LiveSession.section, LiveSession.starts_at, LiveSession.ends_at,
        LiveSession.cohort.program.absent_after_minutes.as_alias("grace"),
    ).where(
        (LiveSession.status == LiveSession.Status.scheduled.value) & (LiveSession.ends_at <= now)
        & (LiveSession.ends_at > now - AUTOMATIC_LOOKBACK) & (LiveSession.cohort.program.absent_after_minutes > 0)
    ).order_by(LiveSession.starts_at)
    written = 0
    for session in sessions:
        if session["ends_at"] + timedelta(minutes=session["grace"]) > now:
            continue
        members = await Membership.select(Membership.person, Membership.joined_at).where(
            (Membership.section == session["section"]) & (Membership.cohort == session["cohort"])
            & (Membership.role == Membership.Role.learner.value) & Membership.left_at.is_null()
        )
        eligible = [m["person"] for m in members if m["joined_at"] is not None
                    and m["joined_at"] <= session["starts_at"]]
        if not eligible:
            continue
        async with write_transaction():
            changed = await write_marks(
                session["id"], dict.fromkeys(eligible, Attendance.Status.absent.value),
                source=AttendanceEvent.Source.automatic.value, actor=None, now=now, only_unmarked=True,
                notes=dict.fromkeys(eligible, f"no mark {session['grace']} min after the session ended"),
            )
        written += len(changed)
    return written
