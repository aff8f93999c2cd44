"""People: accounts (create, reset a password), and each person's own time zone, working hours and days.

Working days are stored as text in the loader's syntax (`Mon-Fri`, `Sun-Thu`, `Mon,Tue,Thu`), so a person
row always reads back through the same rule the cohort files use.
"""

from __future__ import annotations

import anyio.to_thread

from models.tables import Person
from planner.loading import days_text
from planner.loading import parse_days as parse_day_numbers
from planner.problem import WEEKDAYS
from server.passwords import hash_password

DAY_NAMES = WEEKDAYS
ROLES = tuple(role.value for role in Person.Role)
ROLE_RANK = {"learner": 0, "manager": 1, "facilitator": 2, "designer": 3}  # an account role is only promoted


def day_names(text: str) -> list[str]:
    """'Mon-Fri', 'Sun-Thu' (wraps) or 'Mon,Tue,Thu' -> day names in week order; [] when unreadable."""
    try:
        numbers = parse_day_numbers(text or "")
    except ValueError:
        return []
    return [WEEKDAYS[i] for i in sorted(numbers)]


def work_days_text(days: frozenset[int]) -> str:
    """Weekday numbers -> the row's text: 'Mon-Fri' for the working week, else the loader's comma list."""
    if days == frozenset(range(5)):
        return "Mon-Fri"
    return days_text(days)


def days_from_names(names: list[str]) -> str:
    """['Mon', ..., 'Fri'] -> 'Mon-Fri'; any other choice as a comma list."""
    return work_days_text(frozenset(WEEKDAYS.index(d) for d in names if d in WEEKDAYS))


async def set_hours(person_id: int, *, timezone: str, work_start: str, work_end: str, work_days: list[str]) -> None:
    await Person.update({
        Person.timezone: timezone,
        Person.work_start: work_start,
        Person.work_end: work_end,
        Person.work_days: days_from_names(work_days),
    }).where(Person.id == person_id)


async def people() -> list[dict]:
    """Every account by name, with `has_password` instead of the hash."""
    rows = await Person.select(
        Person.id, Person.email, Person.name, Person.role, Person.timezone, Person.work_start,
        Person.work_end, Person.work_days, Person.active, Person.password_hash,
    ).order_by(Person.name)
    for row in rows:
        row["has_password"] = bool(row.pop("password_hash"))
    return rows


async def email_taken(email: str) -> bool:
    return await Person.exists().where(Person.email == email)


async def create_person(*, email: str, name: str, role: str, timezone: str, password: str) -> None:
    password_hash = await anyio.to_thread.run_sync(hash_password, password)  # ~1 s by design: off the loop
    await Person(email=email, name=name, role=role, timezone=timezone, password_hash=password_hash).save()


async def person_id(email: str) -> int | None:
    """The id of the person with this (lower-case) email, or None."""
    row = await Person.select(Person.id).where(Person.email == email).first()
    return row["id"] if row else None


async def person_name(person_id: int) -> str | None:
    row = await Person.select(Person.name).where(Person.id == person_id).first()
    return row["name"] if row else None


async def set_password(person_id: int, password: str) -> None:
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    await Person.update({Person.password_hash: password_hash}).where(Person.id == person_id)
