"""Cadence's tables. Singular names; choices nested in the table; every instant a Timestamptz in UTC.

Uniqueness that spans columns is created by raw SQL in the migrations (Piccolo's Unique([...]) fails on
SQLite): Membership(cohort, person), Unit(program, slug), UnitRequirement(unit, requires),
SessionUnit(session, position), SessionPrework(session, module), ModuleCompletion(module, person),
Attendance(session, person), CheckinThrottle(session, person, bucket), LiveSession(cohort, key), AsyncModule(cohort, key), Section(cohort, key).

PostgreSQL's timestamptz holds instants only. SQLite keeps a Timestamptz as text, and Piccolo's adapter would
store a naive datetime as it comes, so this module replaces that adapter with one that refuses naive
datetimes (only Piccolo's own migration table, whose `ran_on` is naive, is let through while migrating).
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from enum import Enum

import piccolo.engine.sqlite  # noqa: F401  (registers Piccolo's SQLite adapters; ours below replaces one)
from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

_migrating = 0  # > 0 while Piccolo records migrations (a module global: adapters run in aiosqlite's thread)


@contextlib.contextmanager
def piccolo_bookkeeping():
    """Let Piccolo's migration table store its naive `ran_on` while migrations run."""
    global _migrating
    _migrating += 1
    try:
        yield
    finally:
        _migrating -= 1


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        if _migrating:
            return str(value)
        raise ValueError(f"naive datetime {value.isoformat()} refused: Cadence stores aware UTC instants")
    return str(value.astimezone(UTC))


sqlite3.register_adapter(datetime, _utc_text)


class Person(Table):
    """Anyone who signs in. `role` is the account's role; cohort roles live in Membership."""

    class Role(str, Enum):
        designer = "designer"
        facilitator = "facilitator"
        learner = "learner"
        manager = "manager"

    email = Varchar(length=254, unique=True, index=True)
    name = Varchar(length=200)
    role = Varchar(length=20, choices=Role, default=Role.learner)
    timezone = Varchar(length=64, default="UTC")  # IANA zone
    work_start = Varchar(length=5, default="09:00")  # local "HH:MM"
    work_end = Varchar(length=5, default="17:00")
    work_days = Varchar(length=40, default="Mon-Fri")  # "Mon-Fri" or "Mon,Tue,Thu"
    password_hash = Text(default="")  # argon2; empty = cannot sign in
    active = Boolean(default=True)
    feed_alarms = Boolean(default=False)  # VALARM reminders in the person's calendar feed
    created_at = Timestamptz(default=TimestamptzNow())
    deactivated_at = Timestamptz(null=True, default=None)  # set while `active` is false (migration 0007)


class Program(Table):
    slug = Varchar(length=100, unique=True, index=True)
    name = Varchar(length=200)
    live_minutes = Integer(default=60)
    module_max_minutes = Integer(default=15)
    weekly_async_minutes = Integer(default=120)
    live_sessions_per_week = Integer(default=2)
    prework_lead_hours = Integer(default=24)
    # attendance (migration 0008): the self check-in window around a session's start, when a check-in or a
    # first join counts as late, the share of a session a meeting report must show for "present", and how long
    # after a session's end unmarked learners are marked absent automatically (0 = never)
    checkin_opens_minutes = Integer(default=10)  # before the start
    checkin_closes_minutes = Integer(default=15)  # after the start
    late_after_minutes = Integer(default=5)  # after the start
    present_share_percent = Integer(default=50)
    absent_after_minutes = Integer(default=0)  # after the end; 0 = no automatic absences
    support = Varchar(length=500, default="")  # the support contact learners see: an email or an http(s) URL
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    # email (migration 0011): why the program exists, in the assignment email; hours before a live session
    # that the upcoming-session reminders go out ("24,1"); the program's default mode per kind of email
    purpose = Text(default="")
    reminder_hours = Varchar(length=40, default="24,1")
    notification_defaults = JSON(default={})


class Unit(Table):
    class Mode(str, Enum):
        async_ = "async"
        live = "live"
        either = "either"

    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    slug = Varchar(length=100)
    title = Varchar(length=200)
    minutes = Integer()
    mode = Varchar(length=10, choices=Mode, default=Mode.either)
    position = Integer(default=0)


class UnitRequirement(Table):
    """`unit` requires `requires` (both of the same program)."""

    unit = ForeignKey(references=Unit, on_delete=OnDelete.cascade, index=True)
    requires = ForeignKey(references=Unit, on_delete=OnDelete.cascade)


class Cohort(Table):
    class Status(str, Enum):
        draft = "draft"
        published = "published"

    program = ForeignKey(references=Program, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=200, unique=True)
    start_date = Date()  # first day of week 1, in the home zone
    weeks = Integer()
    timezone = Varchar(length=64, default="UTC")
    max_sections = Integer(default=1)
    min_section_size = Integer(default=1)
    blackout = JSON(default=[])  # ["2027-03-26", ...] home-zone dates
    status = Varchar(length=20, choices=Status, default=Status.draft)
    published_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Section(Table):
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    key = Varchar(length=200)  # the planner's section id, stable across re-plans


class Membership(Table):
    class Role(str, Enum):
        learner = "learner"
        facilitator = "facilitator"
        manager = "manager"

    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=20, choices=Role, default=Role.learner)
    manager = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True, index=True)
    section = ForeignKey(references=Section, on_delete=OnDelete.set_null, null=True)
    # The lifecycle (migration 0007): a member who leaves keeps the row, so attendance and completion history
    # stay attached; every "who is in the cohort" query reads only rows with `left_at` null.
    left_at = Timestamptz(null=True, default=None)
    left_by = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    left_reason = Varchar(length=200, default="")
    # The section a learner was last moved out of and when: that section's sessions stay in their feed as
    # cancelled for as long as a dropped session does.
    moved_from = ForeignKey(references=Section, on_delete=OnDelete.set_null, null=True)
    moved_at = Timestamptz(null=True, default=None)
    joined_at = Timestamptz(default=TimestamptzNow())  # migration 0008; automatic absences skip later joiners


class LiveSession(Table):
    class Status(str, Enum):
        scheduled = "scheduled"
        cancelled = "cancelled"

    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    section = ForeignKey(references=Section, on_delete=OnDelete.cascade, index=True)
    key = Varchar(length=200)  # the planner's session id, stable across re-plans
    uid = Varchar(length=255, unique=True)  # iCalendar UID, never changes
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    facilitator = ForeignKey(references=Person, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=20, choices=Status, default=Status.scheduled)
    sequence = Integer(default=0)  # iCalendar SEQUENCE: +1 whenever time or status changes
    join_url = Varchar(length=500, default="")
    updated_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)


class AsyncModule(Table):
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    unit = ForeignKey(references=Unit, on_delete=OnDelete.cascade)
    key = Varchar(length=200)  # the planner's module id
    uid = Varchar(length=255, unique=True)
    title = Varchar(length=300)
    minutes = Integer()
    release_at = Timestamptz()
    due_at = Timestamptz()
    sequence = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class SessionUnit(Table):
    """A portion of a unit taught in a live session, in teaching order."""

    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    unit = ForeignKey(references=Unit, on_delete=OnDelete.cascade)
    minutes = Integer()
    position = Integer()


class SessionPrework(Table):
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade)


class ModuleCompletion(Table):
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    completed_at = Timestamptz(default=TimestamptzNow())


class Attendance(Table):
    class Status(str, Enum):
        present = "present"
        late = "late"
        excused = "excused"
        absent = "absent"

    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=20, choices=Status)
    marked_by = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    marked_at = Timestamptz(default=TimestamptzNow())


class AttendanceEvent(Table):
    """One change of a learner's attendance at a session or completion of a module, appended and never changed
    (services/attendance_events.py): who changed it, when, from what, to what, and how. A learner's current
    attendance and completions are always the `to_state` of the last event of each (session or module)."""

    class Kind(str, Enum):
        attendance = "attendance"
        completion = "completion"

    class Source(str, Enum):
        manual = "manual"  # by hand: a facilitator's mark, a learner ticking a module
        checkin = "checkin"  # the learner's self check-in
        meeting_report = "import"  # a Zoom / Teams participants report
        automatic = "automatic"  # absent after the grace period
        content = "content"  # a statement from the module's content (none send any yet)
        earlier = "earlier"  # recorded before the trail existed (migration 0008)

    kind = Varchar(length=20, choices=Kind)
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, null=True, index=True)
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade, null=True, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)  # the learner
    from_state = Varchar(length=20, default="")  # "" = not marked / not done
    to_state = Varchar(length=20, default="")
    source = Varchar(length=20, choices=Source)
    actor = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)  # None: the system
    actor_name = Varchar(length=200, default="")  # as it was then, so the trail reads the same later
    at = Timestamptz()
    note = Varchar(length=300, default="")


class CheckinThrottle(Table):
    """Self check-in attempts per learner, session and ten-minute bucket (unique, migration 0008): a counter in
    the database, so the limit holds across web workers and machines."""

    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade)
    bucket = Integer()  # unix time // bucket length
    attempts = Integer(default=0)
class SessionMaterial(Table):
    """Something left behind by a live session: a link (recording, slides, notes) and/or a short text."""

    class Kind(str, Enum):
        recording = "recording"
        slides = "slides"
        notes = "notes"
        link = "link"

    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, choices=Kind, default=Kind.link)
    title = Varchar(length=200)
    url = Varchar(length=2000, default="")  # http(s) only (server/services/materials.py checks)
    text = Text(default="")  # Markdown, rendered sanitised
    added_by = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class SessionFeedback(Table):
    """One learner's rating (1-5) and optional comment on one session; unique (session, person)."""

    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    rating = Integer()
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Question(Table):
    """A question on a cohort's Q&A board, optionally about one of its modules or sessions (body: Markdown)."""

    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    author = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    title = Varchar(length=200)
    body = Text(default="")
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.set_null, null=True)
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.set_null, null=True)
    pinned = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    edited_at = Timestamptz(null=True, default=None)


class Answer(Table):
    """An answer to a question; at most one of a question's answers is `accepted` (by a facilitator)."""

    question = ForeignKey(references=Question, on_delete=OnDelete.cascade, index=True)
    author = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    body = Text()
    accepted = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    edited_at = Timestamptz(null=True, default=None)


class FeedToken(Table):
    """The URL token is HMAC(secret key, nonce); the row holds the nonce and SHA-256(token) for lookup, so
    a database leak without the secret key reveals no working feed URL, yet the page can show the URL again."""

    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    nonce = Varchar(length=64)
    token_hash = Varchar(length=64, unique=True, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    # The last feed body's ETag and when this token first saw it: Last-Modified then moves with every content
    # change, including those that leave no timestamp of their own (an undone completion, the reminder switch).
    content_etag = Varchar(length=80, default="")
    content_changed_at = Timestamptz(null=True, default=None)
    # What that ETag was built from (content generation, base URL, feed code) and until when it holds without
    # a write: a feed request that matches both answers 304 without building (models_0005 has the triggers).
    content_version = Varchar(length=100, default="")
    content_valid_until = Timestamptz(null=True, default=None)


class Absence(Table):
    """A facilitator is away from `starts_at` to `ends_at` (UTC instants): re-plans route sessions around it."""

    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    note = Varchar(length=200, default="")
    created_by = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class PlannerRun(Table):
    """One planner run: the record a worker claims, keeps alive and fills (STYLE 15: jobs are rows plus nudges).

    queued -> running -> done / infeasible / failed / cancelled; a done (or cancelled, with a plan) run can
    become published. A queued task only says "look at run N"; `claimed_by` and `attempts` count the claims.
    """

    class Status(str, Enum):
        queued = "queued"
        running = "running"
        done = "done"
        infeasible = "infeasible"
        failed = "failed"
        cancelled = "cancelled"
        published = "published"

    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    cohort_names = JSON(default=[])
    requested_by = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    status = Varchar(length=20, choices=Status, default=Status.queued)
    time_limit = Integer(default=10)
    result = JSON(default={})  # plan_to_dict(...) or {"reasons": [...]}
    changes = JSON(default=[])  # for re-plans: what moved, in words
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    # the queue (migration 0005)
    planned_at = Timestamptz(null=True, default=None)  # the instant the plan is made "as of" (the request's now)
    queued_at = Timestamptz(null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=200, default="")  # host:pid of the worker that holds it
    attempts = Integer(default=0)  # claims so far
    cancel_requested = Boolean(default=False)
    # live progress, written by the worker at most once a second
    elapsed = Real(null=True, default=None)
    best_coverage = Real(null=True, default=None)
    gap = Real(null=True, default=None)
    solutions = Integer(default=0)
    # what-if variants (migration 0010): the parameters this run changes from the cohorts' own settings
    # (server/services/variants.py), and the comparison it belongs to (the id of its first run; null alone)
    variant = JSON(default={})
    comparison = Integer(null=True, default=None, index=True)


class WebSession(Table):
    """Server-side HTTP sessions, shared by every worker process."""

    key = Varchar(length=128, unique=True, index=True)
    data = Text()
    expires_at = Timestamptz(index=True)
    # the signed-in person named in `data`, so a request reads its session and person in one query (migration
    # 0012; null for sessions without one, or written before it). Not a foreign key: it only mirrors `data`.
    person = Integer(null=True, default=None)


class RosterChange(Table):
    """The audit of roster and people changes: who did what, when, to whom, in which cohort. Append-only;
    `details` holds the words a designer reads ("moved from section a to section b")."""

    class Action(str, Enum):
        added = "added"
        removed = "removed"
        moved = "moved"
        transferred = "transferred"
        updated = "updated"
        deactivated = "deactivated"
        reactivated = "reactivated"

    at = Timestamptz(index=True)
    actor = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    action = Varchar(length=20, choices=Action)
    person = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True, index=True)
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.set_null, null=True, index=True)
    details = Text(default="")
class Notification(Table):
    """One email to one person: the record that it is due, was sent, skipped or failed (STYLE 15).

    `key` is unique per (kind, person, subject, occasion), so scheduling it twice, from two workers at once,
    makes one row. pending -> sending (claimed with a conditional update) -> sent / outbox (no SMTP server
    configured) / failed; pending -> skipped (its moment had passed) / withdrawn (a re-plan moved or
    cancelled its subject) / digest (waits for the person's daily digest) -> digested. A row left in
    `sending` by a worker that died becomes `unknown`: the server may have accepted it, so it is reported and
    never sent again on its own.
    """

    class State(str, Enum):
        pending = "pending"
        sending = "sending"
        sent = "sent"
        outbox = "outbox"
        failed = "failed"
        unknown = "unknown"
        skipped = "skipped"
        withdrawn = "withdrawn"
        digest = "digest"
        digested = "digested"

    key = Varchar(length=300, unique=True)
    kind = Varchar(length=40, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, null=True)
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, null=True, index=True)
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade, null=True)
    occasion = Varchar(length=100, default="")  # "24h", "seq 2", "2027-W10": what makes this one unique
    method = Varchar(length=10, default="")  # invitations: REQUEST or CANCEL
    sequence = Integer(default=0)  # invitations: the session's SEQUENCE they carry
    state = Varchar(length=20, choices=State, default=State.pending, index=True)
    due_at = Timestamptz()  # when it goes out (inside working hours for the kinds that ask for it)
    expires_at = Timestamptz(null=True, default=None)  # after this it is skipped, not sent late
    reason = Text(default="")  # why skipped, withdrawn, failed or unknown
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=200, default="")
    claimed_at = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    digest_id = Integer(null=True, default=None)  # the daily digest that carried it
    recipient = Varchar(length=254, default="")  # as rendered, for the record
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(default="")
    calendar = Text(default="")  # the text/calendar part of an invitation
    message_id = Varchar(length=255, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class NotificationPreference(Table):
    """A person's choice for one kind of email: immediately, in a daily digest, or off (unique per person
    and kind, a raw index in migration 0011). Without a row, the program's default (or Cadence's) holds."""

    class Mode(str, Enum):
        immediate = "immediate"
        digest = "digest"
        off = "off"

    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    mode = Varchar(length=20, choices=Mode, default=Mode.immediate)
    updated_at = Timestamptz(default=TimestamptzNow())


class UnsubscribeToken(Table):
    """The opaque token of a one-click unsubscribe link (RFC 8058): one per person and kind; the row holds
    SHA-256(token) for lookup, as feed tokens do, and the token is HMAC(secret key, nonce)."""

    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    nonce = Varchar(length=64)
    token_hash = Varchar(length=64, unique=True, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
