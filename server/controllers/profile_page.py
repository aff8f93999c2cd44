"""The profile page's context, shared by the two controllers that answer its regions (the profile form, and
a facilitator's absences), so neither imports the other."""

from __future__ import annotations

from litestar import Request

from models.tables import Person
from server.controllers.requests import now, settings
from server.services import absences
from server.services.feeds import feed_box
from server.services.people import day_names

RECORDS_ABSENCES = frozenset({Person.Role.facilitator.value, Person.Role.designer.value})


def hours_values(person: Person) -> dict:
    return {"timezone": person.timezone, "work_start": person.work_start, "work_end": person.work_end,
            "work_days": day_names(person.work_days)}


async def feed_region(request: Request, person: Person) -> dict:
    """What partials/feed_link.html expects as `feed`."""
    return await feed_box(person.id, settings(request), now=now(request), alarms=person.feed_alarms)


async def away_region(request: Request, person: Person, **extra) -> dict:
    """What partials/my_absences.html expects as `away`."""
    context = {
        "can_record": person.role in RECORDS_ABSENCES,
        "absences": await absences.upcoming([person.id], now(request)),
        "values": {},
        "errors": {},
        "zone": person.timezone,
    }
    context.update(extra)
    return context


async def profile_context(request: Request, person: Person, *, values: dict | None = None,
                          errors: dict | None = None, saved: bool = False, away: dict | None = None) -> dict:
    """Everything profile.html shows."""
    return {"values": values or hours_values(person), "errors": errors or {}, "saved": saved,
            "feed": await feed_region(request, person),
            "away": away if away is not None else await away_region(request, person)}
