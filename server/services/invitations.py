"""Calendar invitations by email: one VEVENT per live session, METHOD:REQUEST (a new session, or an update
with a higher SEQUENCE) or METHOD:CANCEL, built with icalendar like the feeds (services/feed_ical.py).

The UID is the session's (the one its feed shows), so a person who subscribes to the feed and accepts the
invitation holds one event; SEQUENCE is the session's; DTSTAMP is the session row's updated_at, so the same
invitation built twice is the same bytes. Times carry the recipient's TZID with its VTIMEZONE (UTC when the
recipient's zone is UTC), so clients place them right across DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from server.services.feed_ical import person_zone

PRODID = "-//Cadence//Invitations 1.0//EN"


def _address(email: str, name: str, *, role: str | None = None, rsvp: bool = False) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    if role:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE" if rsvp else "FALSE")
    return address


def invitation_calendar(context: dict) -> bytes:
    """The text/calendar body for an invitation context (services/notifications/content._invitation)."""
    session = context["session"]
    person = context["person"]
    method = context["method"]
    zone = person_zone(person)

    def local(instant: datetime) -> datetime:
        instant = instant.astimezone(UTC)
        return instant.astimezone(zone) if zone is not None else instant

    calendar = Calendar.new(prodid=PRODID, method=method)
    calendar.pop("UID", None)  # Calendar.new may invent one: an invitation's calendar needs none
    stamp = session["updated_at"].astimezone(UTC)
    cancelled = method == "CANCEL"
    event = Event.new(
        uid=session["uid"],
        stamp=stamp,
        sequence=session["sequence"],
        start=local(session["starts_at"]),
        end=local(session["ends_at"]),
        summary=("Cancelled: " if cancelled else "") + session["title"],
        description=_description(session, context),
        status="CANCELLED" if cancelled else "CONFIRMED",
        url=context.get("schedule_url") or None,
    )
    if session.get("join_url"):
        event.add("LOCATION", session["join_url"])
    organizer = context["organizer"]
    event.add("ORGANIZER", _address(organizer["email"], organizer["name"]))
    attendees = {person["email"]: person["name"]}
    for attendee in context.get("attendees", []):
        attendees.setdefault(attendee["email"], attendee["name"])
    for email, name in sorted(attendees.items()):
        if email == organizer["email"]:
            continue
        event.add("ATTENDEE", _address(email, name, role="REQ-PARTICIPANT", rsvp=False))
    calendar.add_component(event)
    if zone is not None:
        year = session["starts_at"].year
        calendar.add_component(_vtimezone(zone.key, year - 1, year + 2))
    return calendar.to_ical()


@lru_cache(maxsize=256)
def _vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    """A zone's VTIMEZONE over whole years, built once per worker (building it took half of an email pass
    that sent invitations). Only ever serialised, never changed, so calendars can share it."""
    return Timezone.from_tzid(zone, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1))


def _description(session: dict, context: dict) -> str:
    lines = [f"Cohort: {session['cohort_name']}", f"Facilitator: {session['facilitator_name']}"]
    if session["units"]:
        lines += ["", "Covers:"] + [f"- {unit}" for unit in session["units"]]
    if session.get("join_url"):
        lines += ["", f"Join: {session['join_url']}"]
    return "\n".join(lines)


def events_of(calendar_text: str) -> list[dict]:
    """What an invitation holds, read back with icalendar (the outbox shows it): method, uid, sequence,
    status, summary and its start and end as UTC instants."""
    if not calendar_text:
        return []
    calendar = Calendar.from_ical(calendar_text)
    method = str(calendar.get("METHOD", ""))
    events = []
    for event in calendar.walk("VEVENT"):
        events.append({"method": method, "uid": str(event.get("UID")), "sequence": int(event.get("SEQUENCE", 0)),
                       "status": str(event.get("STATUS", "")), "summary": str(event.get("SUMMARY", "")),
                       "start": event.decoded("DTSTART").astimezone(UTC),
                       "end": event.decoded("DTEND").astimezone(UTC),
                       "tzid": event["DTSTART"].params.get("TZID", "UTC")})
    return events
