"""A recipient as the notifications need them (address, zone, working hours), and when a message meant for a
moment goes out inside their working hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models.tables import Person
from planner.coverage import day_window
from planner.problem import WorkingHours
from server.errors import UserError


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    timezone: str
    hours: WorkingHours
    active: bool = True


def as_recipient(row: dict) -> Recipient:
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


PERSON_COLUMNS = (Person.id, Person.email, Person.name, Person.timezone, Person.work_start, Person.work_end,
                  Person.work_days, Person.active)


def work_day_start(instant: datetime, person: Recipient) -> datetime:
    """The start of the person's working day holding `instant`, or of the last one before it."""
    day = instant.astimezone(ZoneInfo(person.timezone)).date()
    for offset in range(0, 8):
        window = day_window(person.timezone, person.hours, day - timedelta(days=offset))
        if window is not None and window[0] <= instant:
            return window[0]
    return instant
