"""Anyone's own profile: time zone, working hours and working days."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from models.tables import Person
from planner.loading import days_text
from planner.loading import parse_days as parse_day_numbers
from planner.problem import WEEKDAYS
from server.auth import signed_in
from server.controllers.my_absences import away_context
from server.controllers.requests import is_htmx
from server.feeds import feed_context

DAY_NAMES = WEEKDAYS
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_days(text: str) -> list[str]:
    """'Mon-Fri', 'Sun-Thu' (wraps) or 'Mon,Tue,Thu' -> day names in week order; [] when unreadable.

    The planner's loader owns the syntax, so the profile reads exactly what the cohort files accept.
    """
    try:
        numbers = parse_day_numbers(text or "")
    except ValueError:
        return []
    return [WEEKDAYS[i] for i in sorted(numbers)]


def format_days(days: list[str]) -> str:
    """['Mon', ..., 'Fri'] -> 'Mon-Fri'; any other choice as a comma list."""
    ordered = [d for d in WEEKDAYS if d in days]
    if ordered == list(WEEKDAYS[:5]):
        return "Mon-Fri"
    return days_text(frozenset(WEEKDAYS.index(d) for d in ordered))


def check_hours(timezone: str, start: str, end: str, days: list[str]) -> dict[str, str]:
    """Field -> message for each bad value (empty when all are fine)."""
    errors: dict[str, str] = {}
    if timezone not in available_timezones():
        errors["timezone"] = f"{timezone or 'An empty value'} is not a time zone name such as Europe/Berlin."
    if not CLOCK.match(start):
        errors["work_start"] = "Use a 24-hour time such as 09:00."
    if not CLOCK.match(end):
        errors["work_end"] = "Use a 24-hour time such as 17:00."
    if "work_start" not in errors and "work_end" not in errors and start >= end:
        errors["work_end"] = "The day must end after it starts (no overnight hours)."
    if not days:
        errors["work_days"] = "Choose at least one working day."
    return errors


class ProfileController(Controller):
    path = "/profile"
    guards = [signed_in]

    @get("/")
    async def page(self, request: Request) -> Template:
        me: Person = request.user
        values = {"timezone": me.timezone, "work_start": me.work_start, "work_end": me.work_end,
                  "work_days": parse_days(me.work_days)}
        return Template("profile.html", context={"values": values, "errors": {}, "saved": False,
                                                 "feed": await feed_context(me), "away": await away_context(me)})

    @post("/", status_code=200)
    async def save(self, request: Request) -> Response:
        me: Person = request.user
        form = await request.form()
        values = {
            "timezone": str(form.get("timezone", "")).strip(),
            "work_start": str(form.get("work_start", "")).strip()[:5],
            "work_end": str(form.get("work_end", "")).strip()[:5],
            "work_days": [d for d in DAY_NAMES if d in form.getall("work_days", [])],
        }
        errors = check_hours(values["timezone"], values["work_start"], values["work_end"], values["work_days"])
        if not errors:
            await Person.update({
                Person.timezone: values["timezone"],
                Person.work_start: values["work_start"],
                Person.work_end: values["work_end"],
                Person.work_days: format_days(values["work_days"]),
            }).where(Person.id == me.id)
            me.timezone = values["timezone"]
        context = {"values": values, "errors": errors, "saved": not errors}
        if not is_htmx(request):
            context["feed"] = await feed_context(me)
            context["away"] = await away_context(me)
        template = "partials/profile_form.html" if is_htmx(request) else "profile.html"
        status = 200 if is_htmx(request) or not errors else 400
        return Template(template, context=context, status_code=status)
