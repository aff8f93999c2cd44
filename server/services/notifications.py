"""Emails as rows: what is due to whom and when (`schedule`), and sending each one exactly once (`send_due`).

Every message is a `notification` row whose `key` is unique per (kind, person, subject, occasion), e.g.
`upcoming:12:40:s1:24h` (person 12, session 40 at SEQUENCE 1, the 24 h reminder). `schedule` works out from
the published plan everything that should be sent and inserts the rows it does not have yet (INSERT ... ON
CONFLICT DO NOTHING, so two workers scheduling at once make one row). A re-plan bumps a session's SEQUENCE, so
its reminders get new keys; `schedule` withdraws the pending rows of the old SEQUENCE and of cancelled
sessions. A row whose moment has already passed when it is first scheduled is written as `skipped`.

`send_due` claims a due row with a conditional update (pending -> sending), builds what the message says
from the rows as they are now (and withdraws it when its subject went away), has the front door render and
deliver it, and records the outcome: sent, outbox (no SMTP server configured), pending again with backoff,
or failed with the reason. A row a dead worker left in `sending` becomes `unknown` (`report_interrupted`):
the SMTP server may have accepted it, so it is shown to the designer and never sent again on its own.

No Litestar or Jinja here: rendering and SMTP are passed in as callables (server/mail.py, server/mailer.py),
and `now` comes from the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from piccolo.query.functions.aggregate import Count

from models.json_value import json_value
from models.tables import (
    AsyncModule,
    Attendance,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Notification,
    NotificationPreference,
    Person,
    Program,
    SessionPrework,
    SessionUnit,
    UnsubscribeToken,
)
from planner.coverage import day_window
from planner.problem import WorkingHours
from server.db import write_transaction
from server.errors import UserError
from server.services.clock import check_aware
from server.services.feed_tokens import feed_urls_for
from server.settings import Settings

State = Notification.State
Mode = NotificationPreference.Mode
MODES = tuple(mode.value for mode in Mode)
ALL_MODES = MODES
NO_DIGEST = (Mode.immediate.value, Mode.off.value)


@dataclass(frozen=True)
class Kind:
    """One kind of email a person can choose for: its label, default, the modes it offers, and whether it
    waits for the recipient's working hours."""

    name: str
    label: str
    modes: tuple[str, ...] = ALL_MODES
    default: str = Mode.immediate.value
    working_hours: bool = True


# Every kind, in the order the preferences page lists them. Invitations and session changes default to on.
KINDS = (
    Kind("assignment", "You are assigned to a program", NO_DIGEST, working_hours=False),
    Kind("invitation", "Calendar invitations and session changes", NO_DIGEST, working_hours=False),
    Kind("upcoming", "A live session is coming up"),
    Kind("prework_due", "Prework due within 48 hours"),
    Kind("prework_overdue", "Prework overdue"),
    Kind("missed_session", "You missed a live session"),
    Kind("manager_digest", "Managers: weekly digest of your reports", NO_DIGEST, working_hours=False),
    Kind("manager_escalation", "Managers: a report is not ready for a session"),
    Kind("facilitator_soon", "Facilitators: your session starts soon", NO_DIGEST, working_hours=False),
)
KIND = {kind.name: kind for kind in KINDS}
DAILY_DIGEST = "daily_digest"  # not a choice: it carries the kinds a person wants in a digest

DEFAULT_REMINDER_HOURS = (24, 1)
PROMPT_HOURS = 2  # a reminder this close to its session goes out at its moment, working hours or not
PREWORK_LEAD = timedelta(hours=48)
OVERDUE_KEPT = timedelta(days=3)  # an overdue reminder not sent by then is skipped
MISSED_KEPT = timedelta(days=7)
FACILITATOR_LEAD = timedelta(hours=1)
ESCALATION_LEAD = timedelta(hours=24)
DIGEST_HOUR = time(8, 0)  # managers' weekly digest: Monday 08:00 in the manager's zone
MAX_ATTEMPTS = 5  # SMTP tries before a temporary failure is recorded as failed
BACKOFF = timedelta(minutes=1)  # doubled after each failed try
SEND_BATCH = 50  # per pass: a pass must not hold a worker (and the planner runs queued behind it) for long
ALIVE = ("scheduled",)


# ------------------------------------------------------------------------------------------------- settings


def reminder_hours(text: str | None) -> tuple[int, ...]:
    """A program's "24,1" as (24, 1), largest first. Raises ValueError with a readable message."""
    text = (text or "").strip()
    if not text:
        return ()
    hours: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 24 * 14:
            raise ValueError(f"{part!r} is not a whole number of hours from 1 to 336")
        hours.add(int(part))
    if len(hours) > 4:
        raise ValueError("at most 4 reminders before a session")
    return tuple(sorted(hours, reverse=True))


def program_defaults(raw) -> dict[str, str]:
    """A program's default mode per kind, only known kinds and modes kept."""
    stored = json_value(raw, {}) or {}
    return {k: v for k, v in stored.items() if k in KIND and v in KIND[k].modes}


# ------------------------------------------------------------------------------------------ working hours


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    timezone: str
    hours: WorkingHours
    active: bool = True


def _recipient(row: dict) -> Recipient:
    from server.services.planning import planner_person

    try:
        person = planner_person(row)
        hours, zone_name = person.hours, person.timezone
    except UserError:
        hours, zone_name = WorkingHours(), row.get("timezone") or "UTC"
    try:
        ZoneInfo(zone_name)
    except (ValueError, KeyError, OSError):
        zone_name = "UTC"
    return Recipient(row["id"], row["email"], row["name"], zone_name, hours, bool(row.get("active", True)))


def inside_working_hours(ideal: datetime, person: Recipient, latest: datetime | None) -> datetime:
    """When a reminder meant for `ideal` goes out inside the person's working hours: `ideal` itself when it
    is inside them; else the start of their next working day, if that is before `latest`; else the last
    working minute before `ideal`; else (no working day within a week) `ideal`."""
    zone = ZoneInfo(person.timezone)
    day = ideal.astimezone(zone).date()
    for offset in range(0, 8):
        window = day_window(person.timezone, person.hours, day + timedelta(days=offset))
        if window is None:
            continue
        if window[0] <= ideal < window[1]:
            return ideal
        if window[0] > ideal:
            if latest is None or window[0] < latest:
                return window[0]
            break
    for offset in range(0, 8):
        window = day_window(person.timezone, person.hours, day - timedelta(days=offset))
        if window is not None and window[1] <= ideal:
            return window[1] - timedelta(minutes=1)
    return ideal


# ------------------------------------------------------------------------------------------------ schedule


@dataclass
class Candidate:
    key: str
    kind: str
    person: int
    due_at: datetime
    expires_at: datetime | None
    cohort: int | None = None
    session: int | None = None
    module: int | None = None
    occasion: str = ""
    method: str = ""
    sequence: int = 0


@dataclass
class _World:
    """The published plan as the scheduler needs it, read in a fixed number of queries."""

    now: datetime
    cohorts: dict[int, dict] = field(default_factory=dict)
    programs: dict[int, dict] = field(default_factory=dict)
    people: dict[int, Recipient] = field(default_factory=dict)
    learners: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # section -> people
    cohort_learners: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    learner_section: dict[tuple[int, int], int | None] = field(default_factory=dict)  # (cohort, person)
    manager_of: dict[tuple[int, int], int] = field(default_factory=dict)  # (cohort, learner) -> manager
    sessions: list[dict] = field(default_factory=list)
    modules: list[dict] = field(default_factory=list)
    module_sections: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    done: set[tuple[int, int]] = field(default_factory=set)  # (module, person)
    absences: list[dict] = field(default_factory=list)
    invited: dict[tuple[int, int], int] = field(default_factory=dict)  # (person, session) -> REQUESTs delivered
    cancelled: set[tuple[int, int]] = field(default_factory=set)  # (person, session) sent a CANCEL since
    preferences: dict[tuple[int, str], str] = field(default_factory=dict)

    def mode(self, person: int, kind: str, program: int | None) -> str:
        chosen = self.preferences.get((person, kind))
        if chosen in KIND[kind].modes:
            return chosen
        if program is not None:
            default = program_defaults(self.programs[program]["notification_defaults"]).get(kind)
            if default:
                return default
        return KIND[kind].default


PERSON_COLUMNS = (Person.id, Person.email, Person.name, Person.timezone, Person.work_start, Person.work_end,
                  Person.work_days, Person.active)


async def _world(now: datetime) -> _World:
    world = _World(now)
    cohorts = await Cohort.select(Cohort.id, Cohort.name, Cohort.program, Cohort.published_at).where(
        Cohort.status == Cohort.Status.published)
    world.cohorts = {c["id"]: c for c in cohorts}
    if not world.cohorts:
        return world
    cohort_ids = sorted(world.cohorts)
    programs = await Program.select(Program.id, Program.name, Program.reminder_hours,
                                    Program.notification_defaults).where(
        Program.id.is_in(sorted({c["program"] for c in cohorts})))
    world.programs = {p["id"]: p for p in programs}
    members = await Membership.select(Membership.cohort, Membership.person, Membership.role, Membership.section,
                                      Membership.manager).where(Membership.cohort.is_in(cohort_ids)
                                                                & Membership.left_at.is_null())
    person_ids = {m["person"] for m in members} | {m["manager"] for m in members if m["manager"]}
    sessions = await LiveSession.select(
        LiveSession.id, LiveSession.cohort, LiveSession.section, LiveSession.starts_at, LiveSession.ends_at,
        LiveSession.facilitator, LiveSession.status, LiveSession.sequence,
    ).where(LiveSession.cohort.is_in(cohort_ids))
    person_ids |= {s["facilitator"] for s in sessions}
    people = await Person.select(*PERSON_COLUMNS).where(Person.id.is_in(sorted(person_ids))) if person_ids else []
    world.people = {row["id"]: _recipient(row) for row in people}
    for m in members:
        if m["role"] != Membership.Role.learner.value:
            continue
        world.cohort_learners[m["cohort"]].append(m["person"])
        world.learner_section[(m["cohort"], m["person"])] = m["section"]
        if m["section"] is not None:
            world.learners[m["section"]].append(m["person"])
        if m["manager"]:
            world.manager_of[(m["cohort"], m["person"])] = m["manager"]
    world.sessions = sorted(sessions, key=lambda s: (s["starts_at"], s["id"]))
    world.modules = await AsyncModule.select(AsyncModule.id, AsyncModule.cohort, AsyncModule.due_at,
                                             AsyncModule.sequence).where(AsyncModule.cohort.is_in(cohort_ids))
    if world.modules:
        links = await SessionPrework.select(SessionPrework.module,
                                            SessionPrework.session.section.as_alias("section")).where(
            SessionPrework.module.is_in([m["id"] for m in world.modules]))
        for link in links:
            world.module_sections[link["module"]].add(link["section"])
        done = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
            ModuleCompletion.module.is_in([m["id"] for m in world.modules]))
        world.done = {(d["module"], d["person"]) for d in done}
    world.absences = await Attendance.select(Attendance.session, Attendance.person, Attendance.marked_at).where(
        (Attendance.status == Attendance.Status.absent) & Attendance.session.cohort.is_in(cohort_ids))
    invitations = await Notification.select(Notification.person, Notification.session, Notification.method,
                                            Notification.sequence).where(
        (Notification.kind == "invitation")
        & Notification.state.is_in([State.sent, State.outbox, State.sending, State.unknown]))
    for row in invitations:
        pair = (row["person"], row["session"])
        if row["method"] == "REQUEST":
            world.invited[pair] = max(world.invited.get(pair, -1), row["sequence"])
    for row in invitations:
        pair = (row["person"], row["session"])
        if row["method"] == "CANCEL" and row["sequence"] >= world.invited.get(pair, -1):
            world.cancelled.add(pair)
    prefs = await NotificationPreference.select(NotificationPreference.person, NotificationPreference.kind,
                                                NotificationPreference.mode)
    world.preferences = {(p["person"], p["kind"]): p["mode"] for p in prefs}
    return world


def _candidates(world: _World) -> list[Candidate]:
    now = world.now
    out: list[Candidate] = []
    last_end: dict[int, datetime] = {}
    for s in world.sessions:
        if s["status"] in ALIVE:
            last_end[s["cohort"]] = max(last_end.get(s["cohort"], s["ends_at"]), s["ends_at"])

    # assignment: every learner of a published cohort, once
    for cohort_id, learners in world.cohort_learners.items():
        for person in learners:
            out.append(Candidate(f"assignment:{person}:{cohort_id}", "assignment", person, now,
                                 last_end.get(cohort_id), cohort=cohort_id))

    invited_to: dict[int, list[int]] = defaultdict(list)  # session -> people who got a REQUEST
    for person, session_id in world.invited:
        invited_to[session_id].append(person)
    for s in world.sessions:
        cohort_id, sid, seq = s["cohort"], s["id"], s["sequence"]
        program = world.cohorts[cohort_id]["program"]
        attendees = [*world.learners.get(s["section"], []), s["facilitator"]]
        alive = s["status"] in ALIVE
        # invitations: a REQUEST per SEQUENCE while the session is on; a CANCEL to whoever got a REQUEST
        # once it is off, or once they are no longer among its people
        if alive and s["ends_at"] > now:
            for person in attendees:
                out.append(Candidate(f"invitation:{person}:{sid}:s{seq}:REQUEST", "invitation", person, now,
                                     s["ends_at"], cohort=cohort_id, session=sid, occasion=f"s{seq}",
                                     method="REQUEST", sequence=seq))
        for person in invited_to.get(sid, ()):
            if (person, sid) in world.cancelled:
                continue
            if not alive or person not in attendees:
                out.append(Candidate(f"invitation:{person}:{sid}:s{seq}:CANCEL", "invitation", person, now,
                                     max(s["ends_at"], now + timedelta(days=1)), cohort=cohort_id, session=sid,
                                     occasion=f"s{seq}", method="CANCEL", sequence=seq))
        if not alive or s["starts_at"] <= now:
            continue
        try:
            hours = reminder_hours(world.programs[program]["reminder_hours"])
        except ValueError:
            hours = DEFAULT_REMINDER_HOURS
        for person in world.learners.get(s["section"], []):
            for h in hours:
                ideal = s["starts_at"] - timedelta(hours=h)
                expires = s["starts_at"] - timedelta(hours=h) / 2
                due = ideal if h < PROMPT_HOURS else inside_working_hours(ideal, world.people[person], expires)
                out.append(Candidate(f"upcoming:{person}:{sid}:s{seq}:{h}h", "upcoming", person, due, expires,
                                     cohort=cohort_id, session=sid, occasion=f"{h}h", sequence=seq))
        facilitator = s["facilitator"]
        out.append(Candidate(f"facilitator_soon:{facilitator}:{sid}:s{seq}", "facilitator_soon", facilitator,
                             s["starts_at"] - FACILITATOR_LEAD, s["starts_at"], cohort=cohort_id, session=sid,
                             sequence=seq))
        managers = sorted({world.manager_of[(cohort_id, p)] for p in world.learners.get(s["section"], [])
                           if (cohort_id, p) in world.manager_of})
        for manager in managers:
            if manager not in world.people:
                continue
            ideal = s["starts_at"] - ESCALATION_LEAD
            due = inside_working_hours(ideal, world.people[manager], s["starts_at"])
            out.append(Candidate(f"manager_escalation:{manager}:{sid}:s{seq}", "manager_escalation", manager, due,
                                 s["starts_at"], cohort=cohort_id, session=sid, sequence=seq))

    for m in world.modules:
        cohort_id, mid = m["cohort"], m["id"]
        for person in world.cohort_learners.get(cohort_id, []):
            sections = world.module_sections.get(mid)
            if sections and world.learner_section.get((cohort_id, person)) not in sections:
                continue  # prework only for other sections' sessions
            if (mid, person) in world.done:
                continue
            recipient = world.people[person]
            if m["due_at"] > now:
                ideal = m["due_at"] - PREWORK_LEAD
                out.append(Candidate(f"prework_due:{person}:{mid}:s{m['sequence']}", "prework_due", person,
                                     inside_working_hours(ideal, recipient, m["due_at"]), m["due_at"],
                                     cohort=cohort_id, module=mid, sequence=m["sequence"]))
            if m["due_at"] + OVERDUE_KEPT > now:
                expires = m["due_at"] + OVERDUE_KEPT
                out.append(Candidate(f"prework_overdue:{person}:{mid}:s{m['sequence']}", "prework_overdue", person,
                                     inside_working_hours(m["due_at"], recipient, expires), expires,
                                     cohort=cohort_id, module=mid, sequence=m["sequence"]))

    session_of = {s["id"]: s for s in world.sessions}
    for absence in world.absences:
        s = session_of.get(absence["session"])
        if s is None or absence["person"] not in world.people:
            continue
        marked = absence["marked_at"]
        expires = marked + MISSED_KEPT
        if expires <= now:
            continue
        out.append(Candidate(f"missed_session:{absence['person']}:{s['id']}", "missed_session", absence["person"],
                             inside_working_hours(marked, world.people[absence["person"]], expires), expires,
                             cohort=s["cohort"], session=s["id"], sequence=s["sequence"]))

    # managers' weekly digest: this week's Monday 08:00 (while it is not a day late) and next week's
    managers = sorted({manager for (cohort_id, _p), manager in world.manager_of.items()
                       if last_end.get(cohort_id, now) > now - timedelta(days=7)})
    for manager in managers:
        recipient = world.people.get(manager)
        if recipient is None:
            continue
        for monday in _mondays(now, recipient.timezone):
            due = datetime.combine(monday, DIGEST_HOUR, tzinfo=ZoneInfo(recipient.timezone)).astimezone(UTC)
            if due + timedelta(days=1) <= now:
                continue
            year, week, _ = monday.isocalendar()
            out.append(Candidate(f"manager_digest:{manager}:{year}-W{week:02d}", "manager_digest", manager, due,
                                 due + timedelta(days=1), occasion=f"{year}-W{week:02d}"))
    return out


def _mondays(now: datetime, zone_name: str) -> list[date]:
    today = now.astimezone(ZoneInfo(zone_name)).date()
    this = today - timedelta(days=today.weekday())
    return [this, this + timedelta(days=7)]


@dataclass(frozen=True)
class Scheduled:
    created: int
    skipped: int
    withdrawn: int
    digests: int


async def schedule(now: datetime) -> Scheduled:
    """Insert the rows of every message now due or foreseen that is not recorded yet, withdraw pending ones
    whose session moved or went away, and gather waiting digest items into daily digests. Idempotent."""
    check_aware(now)
    world = await _world(now)
    candidates = _candidates(world)
    rows: list[Notification] = []
    skipped = 0
    for c in candidates:
        program = world.cohorts[c.cohort]["program"] if c.cohort in world.cohorts else None
        person = world.people.get(c.person)
        if person is None or not person.active:
            continue
        mode = world.mode(c.person, c.kind, program)
        if mode == Mode.off.value:
            continue
        state, reason = (State.digest if mode == Mode.digest.value else State.pending), ""
        if c.expires_at is not None and c.expires_at <= now:
            state, reason = State.skipped, "its moment had passed when it was scheduled"
            skipped += 1
        rows.append(Notification(key=c.key, kind=c.kind, person=c.person, cohort=c.cohort, session=c.session,
                                 module=c.module, occasion=c.occasion, method=c.method, sequence=c.sequence,
                                 state=state, reason=reason, due_at=c.due_at, expires_at=c.expires_at,
                                 created_at=now))
    created = 0
    async with write_transaction():
        withdrawn = await _withdraw_stale(now)
        for start in range(0, len(rows), 500):
            done = await Notification.insert(*rows[start:start + 500]).on_conflict(
                target=Notification.key, action="DO NOTHING").returning(Notification.id)
            created += len(done)
    digests = await _schedule_digests(now, world)
    return Scheduled(created, skipped if created else 0, withdrawn, digests)


async def _withdraw_stale(now: datetime) -> int:
    """Pending rows whose session or module changed SEQUENCE, or whose session was cancelled (except the
    CANCEL invitation itself), are withdrawn."""
    waiting = [State.pending, State.digest]
    rows = await Notification.select(
        Notification.id, Notification.method, Notification.sequence, Notification.kind,
        Notification.session.sequence.as_alias("session_sequence"),
        Notification.session.status.as_alias("session_status"),
        Notification.module.sequence.as_alias("module_sequence"),
        Notification.session, Notification.module,
    ).where(Notification.state.is_in(waiting) & (Notification.session.is_not_null()
                                                 | Notification.module.is_not_null()))
    stale = []
    for row in rows:
        if row["kind"] == "missed_session":
            continue
        if row["session"] is not None:
            if row["session_sequence"] != row["sequence"]:
                stale.append((row["id"], "the session moved: a new reminder replaces this one"))
            elif row["session_status"] != "scheduled" and row["method"] != "CANCEL":
                stale.append((row["id"], "the session was cancelled"))
        elif row["module"] is not None and row["module_sequence"] != row["sequence"]:
            stale.append((row["id"], "the module's due time changed: a new reminder replaces this one"))
    for row_id, reason in stale:
        await _finish(row_id, State.withdrawn, reason, now, expect=waiting)
    return len(stale)


async def _schedule_digests(now: datetime, world: _World) -> int:
    """A daily digest per person with items waiting: at the start of the working day on which the earliest
    waiting item is due (the last working day before it, on a day off), carrying the items due by the next
    day's start."""
    waiting = await Notification.select(Notification.person, Notification.due_at).where(
        (Notification.state == State.digest) & (Notification.digest_id.is_null()))
    earliest: dict[int, datetime] = {}
    for row in waiting:
        earliest[row["person"]] = min(earliest.get(row["person"], row["due_at"]), row["due_at"])
    missing = [p for p in earliest if p not in world.people]
    if missing:
        for row in await Person.select(*PERSON_COLUMNS).where(Person.id.is_in(missing)):
            world.people[row["id"]] = _recipient(row)
    rows = []
    for person, first in earliest.items():
        recipient = world.people.get(person)
        if recipient is None:
            continue
        due = _work_day_start(first, recipient)
        local_day = due.astimezone(ZoneInfo(recipient.timezone)).date()
        rows.append(Notification(key=f"{DAILY_DIGEST}:{person}:{local_day.isoformat()}", kind=DAILY_DIGEST,
                                 person=person, occasion=local_day.isoformat(), state=State.pending, due_at=due,
                                 expires_at=due + timedelta(days=2), created_at=now))
    if not rows:
        return 0
    done = await Notification.insert(*rows).on_conflict(target=Notification.key, action="DO NOTHING").returning(
        Notification.id)
    return len(done)


DIGEST_SPAN = timedelta(days=1)  # a digest carries the items due up to a day after it goes out


def _work_day_start(instant: datetime, person: Recipient) -> datetime:
    """The start of the person's working day holding `instant`, or of the last one before it."""
    day = instant.astimezone(ZoneInfo(person.timezone)).date()
    for offset in range(0, 8):
        window = day_window(person.timezone, person.hours, day - timedelta(days=offset))
        if window is not None and window[0] <= instant:
            return window[0]
    return instant


# --------------------------------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Rendered:
    """What the renderer made of a message (server/mail.py): kept on the row, so the outbox shows it."""

    recipient: str
    subject: str
    text: str
    html: str
    calendar: str = ""
    message_id: str = ""


class DeliveryFailed(Exception):
    """The SMTP server refused or could not be reached. `permanent` refusals (5xx) are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


Render = Callable[[dict], Rendered]
Deliver = Callable[[Rendered, dict], Awaitable[None]]


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    outbox: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


async def send_due(now: datetime, settings: Settings, *, worker: str, render: Render,
                   deliver: Deliver | None) -> SendReport:
    """Send every row that is due: claim it, build its content, render, deliver (or keep it in the outbox when
    `deliver` is None), record the outcome. Safe to run in many workers at once."""
    check_aware(now)
    report = SendReport()
    due = await Notification.select(Notification.id).where(
        (Notification.state == State.pending) & (Notification.due_at <= now)
        & (Notification.next_attempt_at.is_null() | (Notification.next_attempt_at <= now))
    ).order_by(Notification.due_at).order_by(Notification.id).limit(SEND_BATCH)
    for row in due:
        if not await claim(row["id"], worker, now):
            continue  # another worker has it
        await _send_claimed(row["id"], now, settings, render, deliver, report)
    return report


async def claim(notification_id: int, worker: str, now: datetime) -> bool:
    """pending -> sending, only if it is still pending (the one conditional update that makes it ours)."""
    done = await Notification.update({
        Notification.state: State.sending, Notification.claimed_by: worker, Notification.claimed_at: now,
        Notification.attempts: Notification.attempts + 1,
    }).where((Notification.id == notification_id) & (Notification.state == State.pending)).returning(
        Notification.id)
    return bool(done)


async def _send_claimed(notification_id: int, now: datetime, settings: Settings, render: Render,
                        deliver: Deliver | None, report: SendReport) -> None:
    row = await Notification.select().where(Notification.id == notification_id).first()
    if row["expires_at"] is not None and row["expires_at"] <= now:
        await _finish(notification_id, State.skipped, "too late: its moment passed before it could be sent", now)
        report.skipped.append(notification_id)
        return
    context = await message_context(row, now, settings)
    if isinstance(context, str):
        await _finish(notification_id, State.skipped, context, now)
        report.skipped.append(notification_id)
        return
    rendered = render(context)
    await Notification.update({
        Notification.recipient: rendered.recipient, Notification.subject: rendered.subject,
        Notification.body_text: rendered.text, Notification.body_html: rendered.html,
        Notification.calendar: rendered.calendar, Notification.message_id: rendered.message_id,
    }).where(Notification.id == notification_id)
    if deliver is None:
        await _finish(notification_id, State.outbox, "no SMTP server configured: kept in the outbox", now,
                      sent=True)
        await _mark_digested(row, context, notification_id)
        report.outbox.append(notification_id)
        return
    try:
        await deliver(rendered, context)
    except DeliveryFailed as failure:
        await _record_failure(row, failure, now, report)
        return
    await _finish(notification_id, State.sent, "", now, sent=True)
    await _mark_digested(row, context, notification_id)
    report.sent.append(notification_id)


async def _mark_digested(row: dict, context: dict, digest_id: int) -> None:
    ids = context.get("item_ids") or []
    if row["kind"] == DAILY_DIGEST and ids:
        await Notification.update({Notification.state: State.digested, Notification.digest_id: digest_id}).where(
            Notification.id.is_in(ids) & (Notification.state == State.digest))


async def _record_failure(row: dict, failure: DeliveryFailed, now: datetime, report: SendReport) -> None:
    attempts = row["attempts"]
    if failure.permanent or attempts >= MAX_ATTEMPTS:
        words = "refused" if failure.permanent else f"gave up after {attempts} tries"
        await _finish(row["id"], State.failed, f"{words}: {failure.reason}", now)
        report.failed.append(row["id"])
        return
    await Notification.update({
        Notification.state: State.pending, Notification.reason: f"try {attempts} failed: {failure.reason}",
        Notification.next_attempt_at: now + BACKOFF * (2 ** (attempts - 1)), Notification.claimed_by: "",
    }).where((Notification.id == row["id"]) & (Notification.state == State.sending))
    report.retrying.append(row["id"])


async def _finish(notification_id: int, state: str, reason: str, now: datetime, *, sent: bool = False,
                  expect: Iterable[str] = (State.sending,)) -> None:
    values = {Notification.state: state, Notification.reason: reason}
    if sent:
        values[Notification.sent_at] = now
    await Notification.update(values).where((Notification.id == notification_id)
                                            & Notification.state.is_in(list(expect)))


async def report_interrupted(now: datetime, stale_after: timedelta) -> list[int]:
    """Rows a worker claimed and never finished (it died mid-send): `unknown`, never re-sent on their own —
    the SMTP server may have accepted the message before the worker died."""
    rows = await Notification.update({
        Notification.state: State.unknown,
        Notification.reason: "the worker stopped while sending: the message may or may not have gone out, "
                             "so it is not sent again",
    }).where((Notification.state == State.sending) & (Notification.claimed_at < now - stale_after)).returning(
        Notification.id)
    return [row["id"] for row in rows]


# ---------------------------------------------------------------------------------------- what a message says


async def message_context(row: dict, now: datetime, settings: Settings) -> dict | str:
    """Everything the templates need for this row, read as things are now; or, as a string, why it is no
    longer worth sending."""
    person_row = await Person.select(*PERSON_COLUMNS).where(Person.id == row["person"]).first()
    if person_row is None or not person_row["active"]:
        return "the person is no longer active"
    person = _recipient(person_row)
    kind = row["kind"]
    context: dict = {
        "kind": kind, "key": row["key"], "now": now, "base_url": settings.base_url,
        "person": {"id": person.id, "name": person.name, "email": person.email, "timezone": person.timezone},
        "preferences_url": settings.base_url + "/preferences", "mail_from": settings.mail_from,
        "notification_id": row["id"],
    }
    if kind in KIND:
        if await _mode_now(person.id, kind, row["cohort"]) == Mode.off.value:
            return "turned off by the person"
        token = await unsubscribe_token(person.id, kind, settings.secret_key, now=now)
        context["unsubscribe_url"] = f"{settings.base_url}/unsubscribe/{token}"
        context["kind_label"] = KIND[kind].label
    builder = _BUILDERS[kind]
    built = await builder(row, person, now, settings)
    if isinstance(built, str):
        return built
    context.update(built)
    return context


async def _mode_now(person: int, kind: str, cohort: int | None) -> str:
    chosen = await NotificationPreference.select(NotificationPreference.mode).where(
        (NotificationPreference.person == person) & (NotificationPreference.kind == kind)).first()
    if chosen and chosen["mode"] in KIND[kind].modes:
        return chosen["mode"]
    if cohort is not None:
        program = await Cohort.select(Cohort.program.notification_defaults.as_alias("defaults")).where(
            Cohort.id == cohort).first()
        if program:
            default = program_defaults(program["defaults"]).get(kind)
            if default:
                return default
    return KIND[kind].default


async def _session(session_id: int) -> dict | None:
    row = await LiveSession.select(
        *LiveSession.all_columns(),
        LiveSession.cohort.name.as_alias("cohort_name"),
        LiveSession.cohort.status.as_alias("cohort_status"),
        LiveSession.cohort.program.name.as_alias("program_name"),
        LiveSession.cohort.program.purpose.as_alias("program_purpose"),
        LiveSession.facilitator.name.as_alias("facilitator_name"),
        LiveSession.facilitator.email.as_alias("facilitator_email"),
    ).where(LiveSession.id == session_id).first()
    if row is None:
        return None
    units = await SessionUnit.select(SessionUnit.unit.title.as_alias("title"), SessionUnit.minutes).where(
        SessionUnit.session == session_id).order_by(SessionUnit.position)
    titles: list[str] = []
    for unit in units:
        if unit["title"] not in titles:
            titles.append(unit["title"])
    row["units"] = titles
    row["title"] = f"{row['program_name']}: {', '.join(titles) or 'live session'}"
    return row


async def _attendees(session: dict) -> list[dict]:
    rows = await Membership.select(Membership.person.id.as_alias("id"), Membership.person.name.as_alias("name"),
                                   Membership.person.email.as_alias("email"),
                                   Membership.manager.as_alias("manager")).where(
        (Membership.section == session["section"]) & (Membership.cohort == session["cohort"])
        & (Membership.role == Membership.Role.learner.value) & Membership.left_at.is_null())
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["email"]))


async def _prework(session_id: int, person_ids: list[int]) -> tuple[list[dict], set[tuple[int, int]]]:
    modules = await SessionPrework.select(
        SessionPrework.module.id.as_alias("id"), SessionPrework.module.title.as_alias("title"),
        SessionPrework.module.due_at.as_alias("due_at"), SessionPrework.module.minutes.as_alias("minutes"),
    ).where(SessionPrework.session == session_id)
    modules.sort(key=lambda m: (m["due_at"], m["id"]))
    done: set[tuple[int, int]] = set()
    if modules and person_ids:
        rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
            ModuleCompletion.module.is_in([m["id"] for m in modules]) & ModuleCompletion.person.is_in(person_ids))
        done = {(r["module"], r["person"]) for r in rows}
    return modules, done


def _session_facts(session: dict) -> dict:
    keys = ("id", "uid", "sequence", "starts_at", "ends_at", "status", "join_url", "title", "units",
            "cohort_name", "program_name", "facilitator_name", "facilitator_email", "updated_at")
    return {k: session[k] for k in keys}


async def _assignment(row, person: Recipient, now, settings) -> dict | str:
    cohort = await Cohort.select(Cohort.id, Cohort.name, Cohort.status, Cohort.program.name.as_alias("program_name"),
                                 Cohort.program.purpose.as_alias("purpose")).where(Cohort.id == row["cohort"]).first()
    if cohort is None or cohort["status"] != Cohort.Status.published.value:
        return "the cohort is no longer published"
    member = await Membership.select(Membership.section).where(
        (Membership.cohort == cohort["id"]) & (Membership.person == person.id) & Membership.left_at.is_null()).first()
    if member is None:
        return "the person is no longer in the cohort"
    first = None
    if member["section"] is not None:
        first = await LiveSession.select(LiveSession.id).where(
            (LiveSession.section == member["section"]) & (LiveSession.status == "scheduled")
            & (LiveSession.starts_at > now)).order_by(LiveSession.starts_at).first()
    first_module = await AsyncModule.select(AsyncModule.title, AsyncModule.due_at).where(
        (AsyncModule.cohort == cohort["id"]) & (AsyncModule.due_at > now)).order_by(AsyncModule.due_at).first()
    urls = await feed_urls_for(person.id, secret_key=settings.secret_key, base_url=settings.base_url, now=now)
    return {
        "cohort": cohort, "purpose": cohort["purpose"] or "",
        "first_session": _session_facts(await _session(first["id"])) if first else None,
        "first_module": first_module, "feed_url": urls.get("https") or urls.get("webcal") or "",
        "schedule_url": settings.base_url + "/learner",
    }


async def _invitation(row, person: Recipient, now, settings) -> dict | str:
    session = await _session(row["session"])
    if session is None or session["cohort_status"] != "published":
        return "the session no longer exists"
    if session["sequence"] != row["sequence"]:
        return "the session changed again: a newer invitation replaces this one"
    organizer = {"name": session["facilitator_name"], "email": session["facilitator_email"]}
    attendees = [] if row["method"] == "CANCEL" else await _attendees(session)
    return {"session": _session_facts(session), "method": row["method"], "organizer": organizer,
            "attendees": attendees, "is_update": session["sequence"] > 0 and row["method"] == "REQUEST",
            "schedule_url": settings.base_url + (
                f"/facilitator/sessions/{session['id']}" if session["facilitator"] == person.id else "/learner")}


async def _live(row, person: Recipient) -> dict | str:
    session = await _session(row["session"])
    if session is None or session["cohort_status"] != "published":
        return "the session no longer exists"
    if session["status"] != "scheduled":
        return "the session was cancelled"
    if session["sequence"] != row["sequence"]:
        return "the session moved: a new reminder replaces this one"
    return session


async def _upcoming(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    if not any(a["id"] == person.id for a in await _attendees(session)):
        return "the person is no longer in this session's section"
    modules, done = await _prework(session["id"], [person.id])
    prework = [{**m, "done": (m["id"], person.id) in done} for m in modules]
    return {"session": _session_facts(session), "prework": prework, "hours": row["occasion"],
            "ready": all(m["done"] for m in prework), "schedule_url": settings.base_url + "/learner"}


async def _facilitator_soon(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    if session["facilitator"] != person.id:
        return "someone else runs this session now"
    learners = await _attendees(session)
    modules, done = await _prework(session["id"], [a["id"] for a in learners])
    ready = [a for a in learners if all((m["id"], a["id"]) in done for m in modules)]
    return {"session": _session_facts(session), "ready_count": len(ready), "learner_count": len(learners),
            "not_ready": [a["name"] for a in learners if a not in ready],
            "roster_url": settings.base_url + f"/facilitator/sessions/{session['id']}"}


async def _escalation(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    reports = [a for a in await _attendees(session) if a["manager"] == person.id]
    if not reports:
        return "no report of this manager is in the session"
    modules, done = await _prework(session["id"], [a["id"] for a in reports])
    behind = []
    for report in reports:
        missing = [m for m in modules if (m["id"], report["id"]) not in done]
        if missing:
            behind.append({"name": report["name"], "missing": missing})
    if not behind:
        return "every report is ready"
    return {"session": _session_facts(session), "behind": behind,
            "readiness_url": settings.base_url + f"/manager#readiness-{session['id']}"}


async def _prework_module(row, person: Recipient, now, settings) -> dict | str:
    module = await AsyncModule.select(AsyncModule.id, AsyncModule.title, AsyncModule.minutes, AsyncModule.due_at,
                                      AsyncModule.sequence, AsyncModule.cohort.status.as_alias("cohort_status"),
                                      AsyncModule.cohort.program.name.as_alias("program_name")).where(
        AsyncModule.id == row["module"]).first()
    if module is None or module["cohort_status"] != "published":
        return "the module no longer exists"
    if module["sequence"] != row["sequence"]:
        return "the module's due time changed: a new reminder replaces this one"
    if await ModuleCompletion.exists().where((ModuleCompletion.module == module["id"])
                                             & (ModuleCompletion.person == person.id)):
        return "already done"
    if row["kind"] == "prework_overdue" and module["due_at"] > now:
        return "not overdue yet"
    return {"module": module, "schedule_url": settings.base_url + "/learner"}


async def _missed(row, person: Recipient, now, settings, materials: list | None = None) -> dict | str:
    absent = await Attendance.select(Attendance.status).where(
        (Attendance.session == row["session"]) & (Attendance.person == person.id)).first()
    if absent is None or absent["status"] != Attendance.Status.absent.value:
        return "no longer marked absent"
    session = await _session(row["session"])
    if session is None:
        return "the session no longer exists"
    if materials is None:
        from server.services.materials import materials_for_sessions

        materials = (await materials_for_sessions([row["session"]])).get(row["session"], [])
    return missed_context(session, materials, settings)


def missed_context(session: dict, materials: list, settings: Settings) -> dict:
    """What the missed-session email says: what the session covered, and its materials when there are any
    (a list of items with a `title` and, optionally, a `url` or `text`; services/materials.py provides them)."""
    return {"session": _session_facts(session), "materials": list(materials),
            "schedule_url": settings.base_url + "/learner"}


async def _manager_digest(row, person: Recipient, now, settings) -> dict | str:
    from server.services.readiness import manager_readiness

    readiness = await manager_readiness(person.id, now=now)
    week = [item for item in readiness.sessions if item.session.starts_at < now + timedelta(days=7)]
    sessions = [{"title": ", ".join(item.session.units) or "live session", "cohort_name": item.session.cohort_name,
                 "starts_at": item.session.starts_at,
                 "ready": [r.name for r in item.learners if r.ready],
                 "not_ready": [{"name": r.name, "missing": list(r.missing)} for r in item.learners if not r.ready]}
                for item in week if item.learners]
    reports = await Membership.select(Membership.person, Membership.cohort,
                                      Membership.person.name.as_alias("name")).where(
        (Membership.manager == person.id) & (Membership.role == Membership.Role.learner.value)
        & Membership.left_at.is_null())
    overdue = []
    if reports:
        modules = await AsyncModule.select(AsyncModule.id, AsyncModule.cohort, AsyncModule.title,
                                           AsyncModule.due_at).where(
            AsyncModule.cohort.is_in(sorted({r["cohort"] for r in reports})) & (AsyncModule.due_at < now)
            & (AsyncModule.cohort.status == "published"))
        done = set()
        if modules:
            rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
                ModuleCompletion.module.is_in([m["id"] for m in modules])
                & ModuleCompletion.person.is_in(sorted({r["person"] for r in reports})))
            done = {(r["module"], r["person"]) for r in rows}
        for report in sorted(reports, key=lambda r: r["name"].casefold()):
            late = [m for m in sorted(modules, key=lambda m: m["due_at"])
                    if m["cohort"] == report["cohort"] and (m["id"], report["person"]) not in done]
            if late:
                overdue.append({"name": report["name"], "modules": late})
    if not sessions and not overdue:
        return "nothing to report this week"
    return {"sessions": sessions, "overdue": overdue, "readiness_url": settings.base_url + "/manager"}


async def _daily_digest(row, person: Recipient, now, settings) -> dict | str:
    items = await Notification.select().where(
        (Notification.person == person.id) & (Notification.state == State.digest)
        & (Notification.due_at <= row["due_at"] + DIGEST_SPAN)).order_by(Notification.due_at).order_by(
        Notification.id)
    entries, ids, gone = [], [], []
    for item in items:
        if item["expires_at"] is not None and item["expires_at"] <= now:
            gone.append(item["id"])
            continue
        built = await _BUILDERS[item["kind"]](item, person, now, settings)
        if isinstance(built, str):
            gone.append(item["id"])
            continue
        ids.append(item["id"])
        entries.append({"kind": item["kind"], "label": KIND[item["kind"]].label, "in_digest": True, **built})
    if gone:
        await Notification.update({Notification.state: State.skipped,
                                   Notification.reason: "no longer relevant by digest time"}).where(
            Notification.id.is_in(gone) & (Notification.state == State.digest))
    if not entries:
        return "nothing left for the digest"
    return {"entries": entries, "item_ids": ids}


_BUILDERS = {
    "assignment": _assignment,
    "invitation": _invitation,
    "upcoming": _upcoming,
    "prework_due": _prework_module,
    "prework_overdue": _prework_module,
    "missed_session": _missed,
    "manager_digest": _manager_digest,
    "manager_escalation": _escalation,
    "facilitator_soon": _facilitator_soon,
    DAILY_DIGEST: _daily_digest,
}


# ----------------------------------------------------------------------------------- preferences, unsubscribe


async def preferences(person_id: int) -> list[dict]:
    """Each kind with the person's mode (their own choice, else the default of their first program, else
    Cadence's) and whether it is their own choice."""
    rows = await NotificationPreference.select(NotificationPreference.kind, NotificationPreference.mode).where(
        NotificationPreference.person == person_id)
    chosen = {r["kind"]: r["mode"] for r in rows}
    program = await Membership.select(Membership.cohort.program.notification_defaults.as_alias("defaults")).where(
        Membership.person == person_id).order_by(Membership.id).first()
    defaults = program_defaults(program["defaults"]) if program else {}
    return [{"kind": k.name, "label": k.label, "modes": k.modes,
             "mode": chosen.get(k.name) if chosen.get(k.name) in k.modes else defaults.get(k.name, k.default),
             "own": k.name in chosen} for k in KINDS]


async def set_preferences(person_id: int, modes: dict[str, str], *, now: datetime) -> None:
    """Store the person's modes (only known kinds and their modes; a UserError otherwise)."""
    for kind, mode in modes.items():
        if kind not in KIND:
            raise UserError(f"unknown kind of email {kind!r}")
        if mode not in KIND[kind].modes:
            raise UserError(f"{KIND[kind].label}: choose one of {', '.join(KIND[kind].modes)}")
    async with write_transaction():
        for kind, mode in modes.items():
            await _set_mode(person_id, kind, mode, now)


async def _set_mode(person_id: int, kind: str, mode: str, now: datetime) -> None:
    await NotificationPreference.insert(
        NotificationPreference(person=person_id, kind=kind, mode=mode, updated_at=now)
    ).on_conflict(target=(NotificationPreference.person, NotificationPreference.kind), action="DO UPDATE",
                  values=[NotificationPreference.mode, NotificationPreference.updated_at])


def _token(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), f"unsubscribe:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def unsubscribe_token(person_id: int, kind: str, secret_key: str, *, now: datetime) -> str:
    """The person's opaque unsubscribe token for this kind (made once, the same in every message)."""
    row = await UnsubscribeToken.select(UnsubscribeToken.nonce).where(
        (UnsubscribeToken.person == person_id) & (UnsubscribeToken.kind == kind)).first()
    if row is None:
        nonce = secrets.token_hex(16)
        await UnsubscribeToken.insert(UnsubscribeToken(person=person_id, kind=kind, nonce=nonce,
                                                       token_hash=_hash(_token(secret_key, nonce)),
                                                       created_at=now)).on_conflict(action="DO NOTHING")
        row = await UnsubscribeToken.select(UnsubscribeToken.nonce).where(
            (UnsubscribeToken.person == person_id) & (UnsubscribeToken.kind == kind)).first()
    return _token(secret_key, row["nonce"])


async def unsubscribe_target(token: str) -> dict | None:
    """{person, name, kind, label, mode} for a token, or None when it is not one of ours."""
    if not (token.isascii() and token.isalnum() and len(token) <= 80):
        return None
    row = await UnsubscribeToken.select(UnsubscribeToken.person, UnsubscribeToken.kind,
                                        UnsubscribeToken.person.name.as_alias("name")).where(
        UnsubscribeToken.token_hash == _hash(token)).first()
    if row is None or row["kind"] not in KIND:
        return None
    mode = await NotificationPreference.select(NotificationPreference.mode).where(
        (NotificationPreference.person == row["person"]) & (NotificationPreference.kind == row["kind"])).first()
    return {"person": row["person"], "name": row["name"], "kind": row["kind"], "label": KIND[row["kind"]].label,
            "off": bool(mode and mode["mode"] == Mode.off.value)}


async def unsubscribe(token: str, *, now: datetime) -> dict | None:
    """Turn off the token's kind for its person (one click, RFC 8058). None when the token is unknown."""
    target = await unsubscribe_target(token)
    if target is None:
        return None
    async with write_transaction():
        await _set_mode(target["person"], target["kind"], Mode.off.value, now)
    return {**target, "off": True}


# ------------------------------------------------------------------------------------------------ the outbox


OUTBOX_STATES = (State.outbox, State.sent, State.failed, State.unknown, State.pending, State.sending,
                 State.skipped, State.withdrawn, State.digest, State.digested)
PAGE = 100


async def outbox(*, state: str | None = None) -> dict:
    """The designer's view: counts per state, and the latest messages (all, or of one state)."""
    where = Notification.state == state if state else Notification.id > 0
    rows = await Notification.select(
        Notification.id, Notification.kind, Notification.state, Notification.subject, Notification.reason,
        Notification.due_at, Notification.sent_at, Notification.method, Notification.attempts,
        Notification.person.name.as_alias("person_name"), Notification.person.email.as_alias("person_email"),
        Notification.person.timezone.as_alias("person_timezone"),
    ).where(where).order_by(Notification.due_at, ascending=False).order_by(Notification.id, ascending=False).limit(PAGE)
    counts = await Notification.select(Notification.state, Count(alias="n")).group_by(
        Notification.state)
    return {"rows": rows, "counts": {c["state"]: c["n"] for c in counts}, "state": state}


async def message(notification_id: int) -> dict | None:
    return await Notification.select(
        *Notification.all_columns(), Notification.person.name.as_alias("person_name"),
        Notification.person.email.as_alias("person_email"),
        Notification.person.timezone.as_alias("person_timezone"),
    ).where(Notification.id == notification_id).first()
