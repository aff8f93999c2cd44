"""Self check-in: a short code, derived and never stored, that rotates every 30 s while a session's check-in
window is open; a learner of the session's section who enters it (or scans its QR code) is marked present, or
late after the program's threshold.

The code is HMAC-SHA256(secret key, "checkin", session id, time step), as six digits, so it is valid for one
session only and cannot be worked out from the database; the current and the previous step are accepted (a
learner typing a code that just rotated still gets in), compared in constant time. Attempts are counted per
learner, session and ten-minute bucket in the database (CheckinThrottle), so the limit holds across workers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import segno

from models.tables import Attendance, AttendanceEvent, LiveSession, Membership
from server.db import fetch, fetch_one, is_row_id, write_transaction
from server.errors import UserError
from server.services.attendance import write_marks
from server.services.clock import check_aware
from server.services.schedule import CANCELLED_STATUS

STEP_SECONDS = 30  # the code on the facilitator's screen changes this often
ACCEPTED_STEPS = 2  # the current code and the one just before it
CODE_DIGITS = 6
BUCKET_SECONDS = 600  # attempts are counted per learner and session in buckets this long
ATTEMPTS_PER_BUCKET = 10


@dataclass(frozen=True)
class Window:
    session_id: int
    cohort_id: int
    section_id: int
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime
    late_after: datetime  # a check-in after this instant is "late"
    cancelled: bool

    def state(self, now: datetime) -> str:
        """cancelled, before, open or closed."""
        if self.cancelled:
            return "cancelled"
        if now < self.opens_at:
            return "before"
        return "open" if now <= self.closes_at else "closed"


@dataclass(frozen=True)
class CheckinResult:
    session_id: int
    status: str  # present or late (or the mark the learner already had)
    already: bool  # the learner had a mark: nothing changed
    starts_at: datetime


@dataclass(frozen=True)
class CheckedIn:
    person_id: int
    name: str
    status: str
    at: datetime


@dataclass(frozen=True)
class Panel:
    """What the facilitator's session page shows about check-in."""

    window: Window
    state: str
    code: str  # "" unless open
    rotates_at: datetime | None
    url: str  # the check-in URL the QR code holds
    qr_svg: str  # inline SVG (segno), "" unless open
    checked_in: tuple[CheckedIn, ...]  # newest first
    learners: int


def code_for(secret: str, session_id: int, step: int) -> str:
    digest = hmac.new(secret.encode(), f"checkin:{session_id}:{step}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def current_code(secret: str, session_id: int, now: datetime) -> tuple[str, datetime]:
    """The code shown now and the instant it rotates."""
    step = step_of(now)
    return code_for(secret, session_id, step), datetime.fromtimestamp((step + 1) * STEP_SECONDS, UTC)


def code_matches(secret: str, session_id: int, code: str, now: datetime) -> bool:
    step = step_of(now)
    results = [hmac.compare_digest(code_for(secret, session_id, step - back), code) for back in range(ACCEPTED_STEPS)]
    return any(results)  # every step compared, so the time taken does not say which one matched


def normalise_code(raw: str) -> str:
    code = "".join(ch for ch in str(raw) if not ch.isspace() and ch != "-")
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        raise UserError(f"A check-in code is {CODE_DIGITS} digits, as shown on the facilitator's screen.")
    return code


def checkin_url(base_url: str, session_id: int, code: str) -> str:
    return f"{base_url.rstrip('/')}/learner/checkin?{urlencode({'session': session_id, 'code': code})}"


def qr_svg(url: str) -> str:
    """The URL as a QR code in inline SVG (no script, no image request)."""
    return segno.make(url, error="m").svg_inline(scale=5, title="Check-in QR code", dark="#111")


# Each session's check-in window, from its program's settings: `condition` is SQL on `s` (the live_session row).
_WINDOWS = (
    "SELECT s.id, s.cohort, s.section, s.starts_at, s.ends_at, s.status, g.checkin_opens_minutes AS opens,"
    " g.checkin_closes_minutes AS closes, g.late_after_minutes AS late"
    " FROM live_session s JOIN cohort c ON c.id = s.cohort JOIN program g ON g.id = c.program"
    " WHERE {condition} ORDER BY s.starts_at, s.id"
)

# The sections a person is a learner in (left members are not).
_MY_SECTIONS = "SELECT section FROM membership WHERE person = {} AND role = {} AND left_at IS NULL"


# The program's check-in settings as columns of a sessions read (`g` the session's program), for window_from.
WINDOW_COLUMNS = (", g.checkin_opens_minutes AS opens, g.checkin_closes_minutes AS closes,"
                  " g.late_after_minutes AS late")


async def windows(condition: str, *args) -> list[Window]:
    return [window_from(row) for row in await fetch(_WINDOWS.replace("{condition}", condition), *args)]


def window_from(row: dict) -> Window:
    """A session's window from a row with the session's id, cohort, section, starts_at, ends_at, status and
    its program's WINDOW_COLUMNS."""
    return Window(
        session_id=row["id"], cohort_id=row["cohort"], section_id=row["section"], starts_at=row["starts_at"],
        ends_at=row["ends_at"], opens_at=row["starts_at"] - timedelta(minutes=row["opens"]),
        closes_at=row["starts_at"] + timedelta(minutes=row["closes"]),
        late_after=row["starts_at"] + timedelta(minutes=row["late"]),
        cancelled=row["status"] == CANCELLED_STATUS,
    )


# A window is at most a day each side of the start (program settings), so this bounds the search.
NEAR = timedelta(days=1)


def open_at(candidates: list[Window], now: datetime) -> list[Window]:
    """The windows among `candidates` (by start) that are open at `now`."""
    return [w for w in candidates if now - NEAR < w.starts_at < now + NEAR and w.state(now) == "open"]


async def window_of(session_id: int) -> Window | None:
    found = await windows("s.id = {}", session_id) if is_row_id(session_id) else []
    return found[0] if found else None


async def _learner_sections(person_id: int) -> set[int]:
    rows = await fetch(_MY_SECTIONS, person_id, Membership.Role.learner.value)
    return {row["section"] for row in rows if row["section"] is not None}


async def open_windows(person_id: int, *, now: datetime) -> list[Window]:
    """The learner's sessions whose check-in window is open now (one query)."""
    check_aware(now)
    near = await windows(f"s.section IN ({_MY_SECTIONS}) AND s.starts_at > {{}} AND s.starts_at < {{}}",
                         person_id, Membership.Role.learner.value, now - NEAR, now + NEAR)
    return open_at(near, now)


def _local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %d %b, %H:%M %Z")


async def _count_attempt(session_id: int, person_id: int, now: datetime) -> int:
    """One more attempt in this bucket, atomically (its own transaction: a refused attempt still counts)."""
    bucket = int(now.timestamp()) // BUCKET_SECONDS
    async with write_transaction():
        rows = await LiveSession.raw(
            'INSERT INTO "checkin_throttle" ("session", "person", "bucket", "attempts") VALUES ({}, {}, {}, 1) '
            'ON CONFLICT ("session", "person", "bucket") DO UPDATE SET "attempts" = "checkin_throttle"."attempts" + 1 '
            'RETURNING "attempts"', session_id, person_id, bucket)
    return rows[0]["attempts"]


async def check_in(person_id: int, raw_code: str, *, session_id: int | None, secret: str, now: datetime,
                   timezone: str = "UTC") -> CheckinResult:
    """Check a learner in with a code. Anything but a valid code of one of their sessions, inside its window
    and under the attempt limit, raises UserError (one line, in the learner's zone) and marks nothing."""
    check_aware(now)
    if session_id is not None:
        window = await window_of(session_id)
        if window is None:
            raise UserError("There is no such session.")
        if window.section_id not in await _learner_sections(person_id):
            raise UserError("This session is not one of yours: check in to a session of your own section.")
        state = window.state(now)
        if state == "cancelled":
            raise UserError("This session was cancelled.")
        if state == "before":
            raise UserError(f"Check-in for this session opens at {_local(window.opens_at, timezone)}.")
        if state == "closed":
            raise UserError(f"Check-in for this session closed at {_local(window.closes_at, timezone)}; "
                            "ask your facilitator to mark you.")
        candidates = [window]
    else:
        candidates = await open_windows(person_id, now=now)
        if not candidates:
            raise UserError("No session of yours is open for check-in now (it opens shortly before the start).")
    code = normalise_code(raw_code)
    counts = [await _count_attempt(w.session_id, person_id, now) for w in candidates]
    if max(counts) > ATTEMPTS_PER_BUCKET:
        raise UserError("Too many check-in attempts: wait a few minutes and try again, or ask your facilitator "
                        "to mark you.")
    matched = [w for w in candidates if code_matches(secret, w.session_id, code, now)]
    if not matched:
        raise UserError(f"That is not the current code of your session: enter the code on the facilitator's "
                        f"screen (it changes every {STEP_SECONDS} seconds).")
    window = matched[0]
    status = (Attendance.Status.late if now > window.late_after else Attendance.Status.present).value
    async with write_transaction():
        changed = await write_marks(window.session_id, {person_id: status}, source=AttendanceEvent.Source.checkin.value,
                                    actor=person_id, now=now, only_unmarked=True)
        if changed:
            return CheckinResult(window.session_id, status, False, window.starts_at)
        row = await Attendance.select(Attendance.status).where(
            (Attendance.session == window.session_id) & (Attendance.person == person_id)).first()
        return CheckinResult(window.session_id, row["status"] if row else status, True, window.starts_at)


async def _section_size(section_id: int) -> int:
    row = await fetch_one("SELECT COUNT(*) AS n FROM membership WHERE section = {} AND role = {} AND left_at IS NULL",
                          section_id, Membership.Role.learner.value)
    return row["n"]


async def panel(session_id: int, *, secret: str, base_url: str, now: datetime,
                learners: int | None = None, window: Window | None = None) -> Panel | None:
    """The facilitator's check-in box: window state, the current code and its QR code while open, and the
    learners who checked in (newest first). A constant number of queries. `learners`: the section's number of
    learners when the caller has just counted them (the roster page), else counted here; `window`: the
    session's, when the caller read it with its own rows (the session page), else read here."""
    check_aware(now)
    window = window or await window_of(session_id)
    if window is None:
        return None
    state = window.state(now)
    code, rotates_at, url, svg = "", None, "", ""
    if state == "open":
        code, rotates_at = current_code(secret, session_id, now)
        url = checkin_url(base_url, session_id, code)
        svg = qr_svg(url)
    events = await fetch(
        "SELECT e.person, p.name, e.to_state, e.at FROM attendance_event e LEFT JOIN person p ON p.id = e.person"
        " WHERE e.session = {} AND e.source = {} ORDER BY e.id DESC",
        session_id, AttendanceEvent.Source.checkin.value)
    if learners is None:
        learners = await _section_size(window.section_id)
    return Panel(window=window, state=state, code=code, rotates_at=rotates_at, url=url, qr_svg=svg,
                 checked_in=tuple(CheckedIn(e["person"], e["name"], e["to_state"], e["at"]) for e in events),
                 learners=learners)
