"""Reading HTML form fields into checked values: each check returns the value or records one message for the
field, so a page can show every problem next to its field at once."""

from __future__ import annotations

import re
from datetime import date

from litestar import Request

from planner.loading import known_zones
from server.services.absences import LONGEST_ABSENCE_DAYS

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Form:
    """The posted fields, and the errors found so far (field -> message)."""

    def __init__(self, fields) -> None:
        self.fields = fields
        self.errors: dict[str, str] = {}

    @classmethod
    async def read(cls, request: Request) -> Form:
        return cls(await request.form())

    def text(self, name: str, *, required: bool = True, max_length: int = 200, label: str = "This") -> str:
        value = str(self.fields.get(name, "") or "").strip()
        if required and not value:
            self.errors[name] = f"{label} is required."
        elif len(value) > max_length:
            self.errors[name] = f"{label} must be at most {max_length} characters."
        return value

    def integer(self, name: str, low: int, high: int, *, default: int | None = None, label: str = "This") -> int:
        raw = str(self.fields.get(name, "") or "").strip()
        if raw == "" and default is not None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.errors[name] = f"{label} must be a whole number."
            return default or low
        if not low <= value <= high:
            self.errors[name] = f"{label} must be between {low} and {high}."
        return value

    def choice(self, name: str, options: list[str] | tuple[str, ...], *, label: str = "This") -> str:
        value = str(self.fields.get(name, "") or "").strip()
        if value not in options:
            self.errors[name] = f"{label}: choose one of {', '.join(options)}."
        return value

    def many(self, name: str) -> list[str]:
        return [str(v) for v in self.fields.getall(name, []) if str(v).strip()]

    def slug(self, name: str, *, label: str = "Id") -> str:
        value = self.text(name, max_length=100, label=label).lower()
        if name not in self.errors and not SLUG.match(value):
            self.errors[name] = f"{label}: use lowercase letters, digits and dashes (e.g. support-onboarding)."
        return value

    def email(self, name: str = "email") -> str:
        value = self.text(name, max_length=254, label="Email").lower()
        if name not in self.errors and not EMAIL.match(value):
            self.errors[name] = "Email: expected an address such as name@example.org."
        return value

    def zone(self, name: str = "timezone") -> str:
        value = self.text(name, max_length=64, label="Time zone")
        if name not in self.errors and value not in known_zones():
            self.errors[name] = f"{value} is not a time zone name such as Europe/Berlin."
        return value

    def clock(self, name: str, default: str) -> str:
        value = str(self.fields.get(name, "") or "").strip() or default
        if not CLOCK.match(value):
            self.errors[name] = "Use a 24-hour time such as 09:00."
        return value

    def day(self, name: str, *, label: str = "Date") -> date | None:
        value = self.text(name, max_length=10, label=label)
        if name in self.errors:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{label}: expected a date like 2027-03-08."
            return None

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_days_away(form: Form) -> dict:
    """The first and last day away and the optional note, with a message next to each bad field."""
    values = {
        "starts_on": form.day("starts_on", label="First day away"),
        "ends_on": form.day("ends_on", label="Last day away"),
        "note": form.text("note", required=False, max_length=200, label="Note"),
    }
    first, last = values["starts_on"], values["ends_on"]
    if first and last:
        if last < first:
            form.fail("ends_on", "The last day away cannot be before the first.")
        elif (last - first).days >= LONGEST_ABSENCE_DAYS:
            form.fail("ends_on", f"An absence can last at most {LONGEST_ABSENCE_DAYS} days; record a longer one "
                                 "in parts.")
    return values


def check_hours(timezone: str, start: str, end: str, days: list[str]) -> dict[str, str]:
    """Field -> message for each bad value of a person's hours (empty when all are fine)."""
    errors: dict[str, str] = {}
    if timezone not in known_zones():
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
