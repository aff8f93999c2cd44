"""How a person's calendar feed is written: iCalendar text from what server/services/feed_content.py read.

Written to survive the known failures of LMS feeds:
- every DTSTART/DTEND carries the person's TZID and its VTIMEZONE is in the feed (or is UTC), so no client
  guesses the zone and DST changes land right;
- UIDs are the rows' uids (set once at publish), so a re-plan updates events instead of duplicating them;
- DTSTAMP is the row's updated_at, never "now", so an unchanged feed is byte-for-byte the same (stable ETag);
- deadlines are transparent VEVENTs (Google and Outlook ignore VTODO);
- a cancelled session stays 30 days (CANCELLED_VISIBLE) with STATUS:CANCELLED and its raised SEQUENCE;
- so do the events a person no longer belongs to: the cohort of a membership they left, the section a learner
  was moved out of (Membership.left_at / moved_at), drawn as cancelled with SEQUENCE + 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Event, Timezone, vDuration

from models.tables import LiveSession
from server.services.feed_content import FeedContent, FeedSession, utc

PRODID = "-//Cadence//Cohort feed 1.0//EN"
REFRESH = timedelta(hours=1)  # REFRESH-INTERVAL and X-PUBLISHED-TTL: clients poll hourly
DEADLINE_LENGTH = timedelta(minutes=15)  # a deadline is drawn as a short block ending at the due instant
SESSION_REMINDER = timedelta(minutes=15)  # VALARM before a live session, when the person asks for alarms
DEADLINE_REMINDER = timedelta(days=1)  # VALARM before a module is due
# Where an event's URL leads: the page this person can open for it.
FACILITATOR_SESSION_PAGE = "/facilitator/sessions/{id}"
LEARNER_PAGE = "/learner"
MANAGER_SESSION_PAGE = "/manager#readiness-{id}"
EVENT_CACHE = 20_000  # rendered VEVENTs kept per worker (about 1 KiB each)


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
        instant = utc(instant)
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
        modified = max(utc(row["updated_at"]), utc(row["cancelled_at"] or row["updated_at"]),
                       utc(session.withdrawn_at or row["updated_at"]))
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
        instants += [utc(row["starts_at"]), utc(row["ends_at"])]

    for module in content.modules:
        due = utc(module["due_at"])
        done = module["id"] in content.completed
        withdrawn = module.get("withdrawn_at")
        events.append(_event_ical(EventText(
            zone=zone_key,
            uid=module["uid"],
            stamp=max(utc(module["updated_at"]), utc(withdrawn or module["updated_at"])),
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
