"""Per-person iCalendar feeds: what goes in a person's feed and how it is written (served by
server/controllers/feeds.py).

A feed is the union of what a person's roles show them: as a learner, the live sessions of their section and
their cohort's module deadlines; as a facilitator, the sessions they run; as a manager, the live sessions of the
cohorts that hold their reports. Each session appears once. Only the person's own prework status is shown.

Written to survive the known failures of LMS feeds:
- every DTSTART/DTEND carries the person's TZID and its VTIMEZONE is in the feed (or is UTC), so no client
  guesses the zone and DST changes land right;
- UIDs are the rows' uids (set once at publish), so a re-plan updates events instead of duplicating them;
- DTSTAMP is the row's updated_at, never "now", so an unchanged feed is byte-for-byte the same (stable ETag);
- deadlines are transparent VEVENTs (Google and Outlook ignore VTODO);
- a cancelled session stays 30 days (CANCELLED_VISIBLE) with STATUS:CANCELLED and its raised SEQUENCE;
- so do the events a person no longer belongs to: the cohort of a membership they left, the section a learner
  was moved out of (Membership.left_at / moved_at), drawn as cancelled with SEQUENCE + 1 (see `withdrawn_at`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Event, Timezone, vDuration

from models.tables import Cohort, LiveSession, Person
from server.db import fetch, fetch_one, in_list
from server.services.feed_tokens import feed_urls_for
from server.settings import Settings

PRODID = "-//Cadence//Cohort feed 1.0//EN"
CANCELLED_VISIBLE = timedelta(days=30)  # a cancelled session stays this long after cancelled_at
REFRESH = timedelta(hours=1)  # REFRESH-INTERVAL and X-PUBLISHED-TTL: clients poll hourly
DEADLINE_LENGTH = timedelta(minutes=15)  # a deadline is drawn as a short block ending at the due instant
SESSION_REMINDER = timedelta(minutes=15)  # VALARM before a live session, when the person asks for alarms
DEADLINE_REMINDER = timedelta(days=1)  # VALARM before a module is due
# Where an event's URL leads: the page this person can open for it.
FACILITATOR_SESSION_PAGE = "/facilitator/sessions/{id}"
LEARNER_PAGE = "/learner"
MANAGER_SESSION_PAGE = "/manager#readiness-{id}"
EVENT_CACHE = 20_000  # rendered VEVENTs kept per worker (about 1 KiB each)


# ---------------------------------------------------------------------------------------------------- content


@dataclass
class FeedSession:
    row: dict
    units: list[str] = field(default_factory=list)  # "Title (45 min)", in teaching order
    unit_titles: list[str] = field(default_factory=list)
    prework: list[dict] = field(default_factory=list)  # {"id", "title", "due_at"}
    learner_here: bool = False  # the person is a learner of this session's section: show their own status
    withdrawn_at: datetime | None = None  # the person left its cohort or section then: shown as cancelled


@dataclass
class FeedContent:
    person: dict
    sessions: list[FeedSession]
    modules: list[dict]
    completed: dict[int, datetime]  # module id -> when the person completed it (theirs only)

    def last_modified(self) -> datetime:
        """The latest change the feed shows. A change with no stamp of its own (an undone completion, the
        reminders switch) changes the ETag but not this; clients send If-None-Match, which wins."""
        stamps = [self.person["created_at"], *self.completed.values()]
        for session in self.sessions:
            stamps += [session.row["updated_at"], session.row["cancelled_at"]]
        stamps += [module["updated_at"] for module in self.modules]
        stamps += [item.withdrawn_at for item in self.sessions] + [m.get("withdrawn_at") for m in self.modules]
        return max(_utc(stamp) for stamp in stamps if stamp is not None)


async def collect(person: dict, *, now: datetime) -> FeedContent:
    """Read everything one person's feed shows, and nothing of anyone else's."""
    person_id = person["id"]
    rows = await fetch("SELECT cohort, role, section, left_at, moved_from, moved_at FROM membership"
                       " WHERE person = {}", person_id)
    memberships = [m for m in rows if m["left_at"] is None]
    learner_sections = {m["section"] for m in memberships if m["role"] == "learner" and m["section"] is not None}
    learner_cohorts = {m["cohort"] for m in memberships if m["role"] == "learner"}
    managed = await fetch("SELECT cohort, left_at FROM membership WHERE manager = {}", person_id)
    manager_cohorts = {m["cohort"] for m in managed if m["left_at"] is None} | {
        m["cohort"] for m in memberships if m["role"] == "manager"}
    withdrawn = _withdrawn(rows, managed, now=now)

    sections = sorted(learner_sections | set(withdrawn.sections))
    cohorts = sorted(manager_cohorts | set(withdrawn.cohorts))
    rows = await fetch(
        f"SELECT s.*, c.name AS cohort_name, g.name AS program_name, p.name AS facilitator_name FROM live_session s"
        f" JOIN cohort c ON c.id = s.cohort LEFT JOIN program g ON g.id = c.program"
        f" LEFT JOIN person p ON p.id = s.facilitator"
        f" WHERE (s.facilitator = {{}} OR s.section IN ({in_list(sections)}) OR s.cohort IN ({in_list(cohorts)}))"
        f" AND (s.status = {{}} OR s.cancelled_at >= {{}}) AND c.status = {{}} ORDER BY s.starts_at, s.uid",
        person_id, *sections, *cohorts, LiveSession.Status.scheduled.value, now - CANCELLED_VISIBLE, _PUBLISHED)
    sessions = {}
    for row in rows:
        still_mine = (row["facilitator"] == person_id or row["section"] in learner_sections
                      or row["cohort"] in manager_cohorts)
        sessions[row["id"]] = FeedSession(row, learner_here=row["section"] in learner_sections,
                                          withdrawn_at=None if still_mine else withdrawn.since(row))

    if sessions:
        units = await fetch(
            f"SELECT su.session, u.title, su.minutes FROM session_unit su JOIN unit u ON u.id = su.unit"
            f" WHERE su.session IN ({in_list(sessions)}) ORDER BY su.session, su.position, su.id", *sessions)
        for unit in units:
            sessions[unit["session"]].units.append(f"{unit['title']} ({unit['minutes']} min)")
            if unit["title"] not in sessions[unit["session"]].unit_titles:
                sessions[unit["session"]].unit_titles.append(unit["title"])
        prework = await fetch(
            f"SELECT sp.session, sp.module AS module_id, am.title, am.due_at FROM session_prework sp"
            f" JOIN async_module am ON am.id = sp.module WHERE sp.session IN ({in_list(sessions)})"
            f" ORDER BY am.due_at, am.uid", *sessions)
        for item in prework:
            sessions[item["session"]].prework.append(
                {"id": item["module_id"], "title": item["title"], "due_at": item["due_at"]}
            )

    modules: list[dict] = []
    if learner_cohorts:
        modules = await _published_modules(sorted(learner_cohorts))
        modules = await _modules_of_my_sections(modules, sorted(learner_cohorts), learner_sections)
    left_cohorts = sorted(set(withdrawn.learner_cohorts) - learner_cohorts)
    if left_cohorts:
        gone = await _published_modules(left_cohorts)
        modules += [{**m, "withdrawn_at": withdrawn.learner_cohorts[m["cohort"]]} for m in gone]
        modules.sort(key=lambda m: (_utc(m["due_at"]), m["uid"]))

    completed: dict[int, datetime] = {}
    if learner_cohorts or left_cohorts:
        done = await fetch("SELECT module, completed_at FROM module_completion WHERE person = {}", person_id)
        completed = {row["module"]: row["completed_at"] for row in done}
    ordered = sorted(sessions.values(), key=lambda s: (_utc(s.row["starts_at"]), s.row["uid"]))
    return FeedContent(person, ordered, modules, completed)


@dataclass
class _Withdrawn:
    """What a person no longer belongs to but their feed still shows as cancelled, with since when."""

    sections: dict[int, datetime] = field(default_factory=dict)  # section id -> moved out / left at
    cohorts: dict[int, datetime] = field(default_factory=dict)  # cohort id -> left at (staff and managers)
    learner_cohorts: dict[int, datetime] = field(default_factory=dict)  # cohort id -> left at (its deadlines)

    def since(self, session: dict) -> datetime | None:
        stamps = [self.sections.get(session["section"]), self.cohorts.get(session["cohort"])]
        return max((_utc(s) for s in stamps if s is not None), default=None)


def _withdrawn(memberships: list[dict], managed: list[dict], *, now: datetime) -> _Withdrawn:
    """Memberships left, sections moved out of and reports who left, in the last CANCELLED_VISIBLE."""
    recent = now - CANCELLED_VISIBLE
    out = _Withdrawn()
    for m in memberships:
        left = m["left_at"]
        if left is not None and _utc(left) >= recent:
            if m["role"] == "learner":
                out.learner_cohorts[m["cohort"]] = left
                if m["section"] is not None:
                    out.sections[m["section"]] = left
            else:
                out.cohorts[m["cohort"]] = left
        moved = m["moved_at"]
        if left is None and m["moved_from"] is not None and moved is not None and _utc(moved) >= recent \
                and m["moved_from"] != m["section"]:
            out.sections[m["moved_from"]] = moved
    for m in managed:
        if m["left_at"] is not None and _utc(m["left_at"]) >= recent:
            out.cohorts[m["cohort"]] = max(m["left_at"], out.cohorts.get(m["cohort"], m["left_at"]))
    return out


_PUBLISHED = Cohort.Status.published.value  # only published cohorts reach a feed


async def _published_modules(cohort_ids: list[int]) -> list[dict]:
    return await fetch(
        f"SELECT am.* FROM async_module am JOIN cohort c ON c.id = am.cohort WHERE am.cohort IN ({in_list(cohort_ids)})"
        f" AND c.status = {{}} ORDER BY am.due_at, am.uid", *cohort_ids, _PUBLISHED)


async def _modules_of_my_sections(modules: list[dict], cohort_ids: list[int], my_sections: set[int]) -> list[dict]:
    """Drop modules that are prework only for other sections' sessions (when a plan gives sections their own)."""
    if not modules:
        return modules
    links = await fetch(
        f"SELECT sp.module, s.section FROM session_prework sp JOIN live_session s ON s.id = sp.session"
        f" WHERE sp.module IN (SELECT id FROM async_module WHERE cohort IN ({in_list(cohort_ids)}))", *cohort_ids)
    sections_of: dict[int, set[int]] = {}
    for link in links:
        sections_of.setdefault(link["module"], set()).add(link["section"])
    return [m for m in modules if m["id"] not in sections_of or sections_of[m["id"]] & my_sections]


# ----------------------------------------------------------------------------------------------------- writing


def person_zone(person: dict) -> ZoneInfo | None:
    """The person's zone, or None for UTC (then times are written with a Z and need no VTIMEZONE)."""
    name = (person.get("timezone") or "UTC").strip()
    if name in ("UTC", "Etc/UTC", "Z"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class EventText:
    """Everything one VEVENT says, as plain values: the key of its rendered text. `zone` is part of it because
    aware datetimes of the same instant compare equal whatever their zone."""

    zone: str
    uid: str
    stamp: datetime
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    url: str
    transparency: str
    status: str | None = None
    location: str | None = None
    alarm: tuple[timedelta, str, bool] | None = None  # trigger, text, related to the end


@lru_cache(maxsize=EVENT_CACHE)
def _event_ical(event: EventText) -> bytes:
    """One VEVENT's iCalendar text. icalendar takes about a millisecond per event (line folding goes character
    by character), so each worker keeps the text of the events it rendered: a feed rebuilt after a change
    renders only the events that changed, and every viewer of an unchanged session shares its text."""
    values = dict(uid=event.uid, stamp=event.stamp, last_modified=event.stamp, sequence=event.sequence,
                  start=event.start, end=event.end, summary=event.summary, description=event.description,
                  url=event.url, transparency=event.transparency)
    if event.status:
        values["status"] = event.status
    component = Event.new(**values)
    if event.location:
        component.add("LOCATION", event.location)
    if event.alarm:
        trigger, text, related_end = event.alarm
        component.add_component(_alarm(trigger, text, related_end=related_end))
    return component.to_ical()


@lru_cache(maxsize=256)
def _timezone_ical(zone: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of a zone over whole years (the same on every request: cached per worker)."""
    return Timezone.from_tzid(zone, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)).to_ical()


def render(content: FeedContent, base_url: str) -> bytes:
    person = content.person
    zone = person_zone(person)
    zone_key = zone.key if zone is not None else "UTC"
    alarms = bool(person.get("feed_alarms"))

    def local(instant: datetime) -> datetime:
        instant = _utc(instant)
        return instant.astimezone(zone) if zone is not None else instant

    calendar = Calendar.new(
        prodid=PRODID,
        calscale="GREGORIAN",
        method="PUBLISH",
        name=f"Cadence: {person['name']}",
        description="Live sessions and module deadlines from Cadence",
        # Calendar.new invents a random UID when none is given; the feed's own is derived from its owner.
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/people/{person['id']}/feed")),
    )
    calendar.pop("REFRESH-INTERVAL", None)
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))  # an X- property: say it is a duration
    if zone is not None:
        calendar.add("X-WR-TIMEZONE", zone.key)

    events: list[bytes] = []
    instants: list[datetime] = []
    for session in content.sessions:
        row = session.row
        cancelled = row["status"] == LiveSession.Status.cancelled or session.withdrawn_at is not None
        modified = max(_utc(row["updated_at"]), _utc(row["cancelled_at"] or row["updated_at"]),
                       _utc(session.withdrawn_at or row["updated_at"]))
        events.append(_event_ical(EventText(
            zone=zone_key,
            uid=row["uid"],
            stamp=modified,
            # a withdrawal is a change this person's copy must accept: one more than the session's own
            sequence=row["sequence"] + (1 if session.withdrawn_at is not None else 0),
            start=local(row["starts_at"]),
            end=local(row["ends_at"]),
            summary=("Cancelled: " if cancelled else "") + _session_title(session),
            description=_session_description(session, content.completed, local),
            url=base_url + _session_page(session, person["id"]),
            status="CANCELLED" if cancelled else "CONFIRMED",
            transparency="TRANSPARENT" if cancelled else "OPAQUE",
            location=row["join_url"] or None,
            alarm=(-SESSION_REMINDER, "Live session starts in 15 minutes", False)
            if alarms and not cancelled else None,
        )))
        instants += [_utc(row["starts_at"]), _utc(row["ends_at"])]

    for module in content.modules:
        due = _utc(module["due_at"])
        done = module["id"] in content.completed
        withdrawn = module.get("withdrawn_at")
        events.append(_event_ical(EventText(
            zone=zone_key,
            uid=module["uid"],
            stamp=max(_utc(module["updated_at"]), _utc(withdrawn or module["updated_at"])),
            sequence=module["sequence"] + (1 if withdrawn is not None else 0),
            start=local(due - DEADLINE_LENGTH),
            end=local(due),
            summary=("Cancelled: " if withdrawn is not None else "Done: " if done else "Due: ") + module["title"],
            description=(
                f"Async module, about {module['minutes']} min.\n"
                f"Available from {_words(local(module['release_at']))}; due {_words(local(due))}.\n"
                f"Your status: {'done' if done else 'not done'}"
            ),
            url=base_url + LEARNER_PAGE,
            transparency="TRANSPARENT",
            status="CANCELLED" if withdrawn is not None else None,
            alarm=(-DEADLINE_REMINDER, f"Due in a day: {module['title']}", True)
            if alarms and not done and withdrawn is None else None,
        )))
        instants += [due - DEADLINE_LENGTH, due]

    if zone is not None and instants:
        # The VTIMEZONE spans the years the events use, so it is the same on every request; it comes first,
        # before the events that name its TZID.
        first, last = min(instants), max(instants)
        events.insert(0, _timezone_ical(zone.key, first.year - 1, last.year + 2))
    head = calendar.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert head.endswith(end)
    return head[: -len(end)] + b"".join(events) + end


def _session_page(session: FeedSession, person_id: int) -> str:
    if session.row["facilitator"] == person_id:
        return FACILITATOR_SESSION_PAGE.format(id=session.row["id"])
    if session.learner_here:
        return LEARNER_PAGE
    return MANAGER_SESSION_PAGE.format(id=session.row["id"])


def _session_title(session: FeedSession) -> str:
    """Program and topics, e.g. 'Support Onboarding: Product tour, Ticketing': what a glance needs."""
    topics = ", ".join(session.unit_titles) or "live session"
    return f"{session.row['program_name']}: {topics}"


def _session_description(session: FeedSession, completed: dict[int, datetime], local) -> str:
    row = session.row
    lines = [f"Cohort: {row['cohort_name']}", f"Facilitator: {row['facilitator_name']}", "", "Units covered:"]
    if session.withdrawn_at is not None:
        lines = ["You are no longer in this session's cohort or section.", ""] + lines
    lines += [f"- {unit}" for unit in session.units] or ["- (none listed)"]
    if session.prework:
        lines += ["", "Prework:" if not session.learner_here else "Prework (your status):"]
        for item in session.prework:
            due = _words(local(item["due_at"]))
            if session.learner_here:
                status = "done" if item["id"] in completed else "not done"
                lines.append(f"- [{status}] {item['title']} (due {due})")
            else:
                lines.append(f"- {item['title']} (due {due})")
    lines += ["", f"Join: {row['join_url']}" if row["join_url"] else "Join link: not set yet"]
    return "\n".join(lines)


def _alarm(trigger: timedelta, text: str, *, related_end: bool) -> Alarm:
    alarm = Alarm()  # not Alarm.new: it would add a random UID and break the stable body
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", text)
    alarm.add("TRIGGER", trigger, parameters={"RELATED": "END"} if related_end else None)
    return alarm


def _words(instant: datetime) -> str:
    return instant.strftime("%a %d %b %Y %H:%M %Z")


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:  # SQLite hands back what was stored; Cadence stores only UTC
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


@dataclass(frozen=True)
class BuiltFeed:
    body: bytes
    etag: str  # strong, quoted
    last_modified: datetime  # UTC, whole seconds
    valid_until: datetime | None = None  # the body changes then with no write (a cancelled session leaves)


# The feed's code is part of what its stored ETag was built from: a deploy that renders differently rebuilds.
CODE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def feed_version(generation: int, base_url: str) -> str:
    """What a stored feed ETag depends on besides the rows and the clock (see feed_tokens.stored_feed)."""
    return f"{generation}:{hashlib.sha256(base_url.encode()).hexdigest()[:12]}:{CODE_VERSION}"


async def build_feed(person: dict, *, now: datetime, base_url: str) -> BuiltFeed:
    """The person's feed as bytes with its validators. `person` is a Person row as a dict."""
    content = await collect(person, now=now)
    body = render(content, base_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # RFC 9110 8.8.2.1: never a Last-Modified later than the server's clock.
    last_modified = min(content.last_modified(), now).replace(microsecond=0)
    leaving = [_utc(s.row["cancelled_at"]) + CANCELLED_VISIBLE for s in content.sessions if s.row["cancelled_at"]]
    # what a person left leaves their feed too, with no write to mark it
    leaving += [_utc(s.withdrawn_at) + CANCELLED_VISIBLE for s in content.sessions if s.withdrawn_at]
    leaving += [_utc(m["withdrawn_at"]) + CANCELLED_VISIBLE for m in content.modules if m.get("withdrawn_at")]
    return BuiltFeed(body, etag, last_modified, min(leaving, default=None))


# ------------------------------------------------------------------------------------------- the feed box


async def feed_box(person_id: int, settings: Settings, *, now: datetime, alarms: bool | None = None) -> dict:
    """What partials/feed_link.html expects as `feed`: the person's feed URLs plus "feed_alarms" (read here
    unless the caller passes the person row's `alarms`, as a page does with the row it signed in with)."""
    if alarms is None:
        row = await fetch_one("SELECT feed_alarms FROM person WHERE id = {}", person_id)
        alarms = bool(row and row["feed_alarms"])
    urls = await feed_urls_for(person_id, secret_key=settings.secret_key, base_url=settings.base_url, now=now)
    return {**urls, "feed_alarms": bool(alarms)}


async def set_alarms(person_id: int, on: bool) -> None:
    await Person.update({Person.feed_alarms: on}).where(Person.id == person_id)
