"""What is due to whom and when: `schedule` works out from the published plan every message that should be
sent and inserts the rows it does not have yet.

Every message is a `notification` row whose `key` is unique per (kind, person, subject, occasion), e.g.
`upcoming:12:40:s1:24h` (person 12, session 40 at SEQUENCE 1, the 24 h reminder). `schedule` inserts with
INSERT ... ON CONFLICT DO NOTHING, so two workers scheduling at once make one row. A re-plan bumps a session's
SEQUENCE, so its reminders get new keys; `schedule` withdraws the pending rows of the old SEQUENCE and of
cancelled sessions. A row whose moment has already passed when it is first scheduled is written as `skipped`.
Items a person wants in a digest wait as `digest` rows, gathered into one daily digest per person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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
)
from server.db import write_transaction
from server.services.clock import check_aware
from server.services.notifications.delivery import finish
from server.services.notifications.digests import schedule_digests
from server.services.notifications.kinds import (
    DEFAULT_REMINDER_HOURS,
    KIND,
    Mode,
    State,
    program_defaults,
    reminder_hours,
)
from server.services.notifications.recipients import (
    PERSON_COLUMNS,
    Recipient,
    as_recipient,
    inside_working_hours,
)

PROMPT_HOURS = 2  # a reminder this close to its session goes out at its moment, working hours or not
PREWORK_LEAD = timedelta(hours=48)
OVERDUE_KEPT = timedelta(days=3)  # an overdue reminder not sent by then is skipped
MISSED_KEPT = timedelta(days=7)
FACILITATOR_LEAD = timedelta(hours=1)
ESCALATION_LEAD = timedelta(hours=24)
DIGEST_HOUR = time(8, 0)  # managers' weekly digest: Monday 08:00 in the manager's zone
ALIVE = ("scheduled",)


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
    world.people = {row["id"]: as_recipient(row) for row in people}
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
    known = await _known_keys(world)
    rows: list[Notification] = []
    skipped = 0
    for c in candidates:
        if c.key in known:
            continue  # recorded by an earlier pass: most of every pass after the first
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
    digests = await schedule_digests(now, world.people)
    return Scheduled(created, skipped if created else 0, withdrawn, digests)


async def _known_keys(world: _World) -> set[str]:
    """The keys already recorded for what this pass can propose: rows of the published cohorts, and those
    that belong to no cohort (managers' digests). Building and sending an INSERT for every foreseen message
    each minute cost seconds on a large rollout; ON CONFLICT still settles two workers racing."""
    if not world.cohorts:
        return set()
    rows = await Notification.select(Notification.key).where(
        Notification.cohort.is_in(sorted(world.cohorts)) | Notification.cohort.is_null()).output(as_list=True)
    return set(rows)


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
        await finish(row_id, State.withdrawn, reason, now, expect=waiting)
    return len(stale)
