"""People: accounts (create, reset a password), and each person's own time zone, working hours and days.

Working days are stored as text in the loader's syntax (`Mon-Fri`, `Sun-Thu`, `Mon,Tue,Thu`), so a person
row always reads back through the same rule the cohort files use.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from models.tables import Person, WebSession
from planner.loading import days_text
from planner.loading import parse_days as parse_day_numbers
from planner.problem import WEEKDAYS
from server.db import (
    counts_beside,
    fetch,
    name_or_email_contains,
    page_with_counts,
    write_transaction,
)
from server.errors import UserError
from server.passwords import hash_password
from server.services import roster_changes
from server.services.feed_tokens import revoke_tokens

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


PEOPLE_PAGE = 50  # accounts per page of the people list


@dataclass(frozen=True)
class PeoplePage:
    rows: list[dict]  # by name, with `has_password` instead of the hash
    total: int  # accounts
    matching: int  # of them, those whose name or email contains `query` (any case)
    page: int
    pages: int
    query: str

    @property
    def first(self) -> int:
        return (self.page - 1) * PEOPLE_PAGE + 1 if self.rows else 0


async def people_page(page: int = 1, query: str = "", *, person_id: int | None = None) -> PeoplePage:
    """One page of the accounts by name, of those matching `query` (or just `person_id`'s row); the last
    page when `page` is past it. One query whatever the number of accounts: the counts ride on each row
    (`server.db.page_with_counts`); a second only when the page comes back empty."""
    query = query.strip()[:100]
    where, args = "1 = 1", []
    if person_id is not None:
        where, args = "id = {}", [person_id]
    elif query:
        where, args = name_or_email_contains(query)
    counts = f"SELECT COUNT(*) AS total, SUM(CASE WHEN {where} THEN 1 ELSE 0 END) AS matching FROM person"

    async def one_page(number: int | None) -> list[dict]:
        return await fetch(
            f"WITH numbers AS ({counts}) SELECT id, email, name, role, timezone, work_start, work_end, work_days,"
            f" active, deactivated_at, password_hash IS NOT NULL AND password_hash <> '' AS has_password,"
            f" {counts_beside('total', 'matching')} FROM person WHERE {where}"
            f" ORDER BY name, id LIMIT {PEOPLE_PAGE} OFFSET {((number or 1) - 1) * PEOPLE_PAGE}", *args, *args)

    rows, counted, page = await page_with_counts(one_page, counts, args, page, PEOPLE_PAGE)
    total, matching = int(counted["total"]), int(counted["matching"] or 0)  # counted may be rows[0]: read first
    for row in rows:
        row["has_password"] = bool(row["has_password"])
        del row["total"], row["matching"]
    return PeoplePage(rows=rows, total=total, matching=matching, page=page,
                      pages=max(1, -(-matching // PEOPLE_PAGE)), query="" if person_id is not None else query)


async def people() -> list[dict]:
    """Every account by name, with `has_password` instead of the hash."""
    rows = await Person.select(
        Person.id, Person.email, Person.name, Person.role, Person.timezone, Person.work_start,
        Person.work_end, Person.work_days, Person.active, Person.password_hash, Person.deactivated_at,
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


# ------------------------------------------------------------------------------------ deactivate, reactivate

SESSION_PERSON_KEY = "person_id"  # what server/auth.py keeps in a session


async def deactivate(person_id: int, *, actor: int, now: datetime) -> str:
    """Someone left: they can no longer sign in, their web sessions end and their feed URL answers 404. Their
    records (memberships, attendance, completions) stay. One transaction with its audit row; their name."""
    async with write_transaction():
        row = await Person.select(Person.name, Person.active).where(Person.id == person_id).first()
        if row is None:
            raise UserError("No such person.")
        if person_id == actor:
            raise UserError("You cannot deactivate your own account.")
        if not row["active"]:
            raise UserError(f"{row['name']} is deactivated already.")
        await Person.update({Person.active: False, Person.deactivated_at: now}).where(Person.id == person_id)
        await revoke_tokens(person_id, now=now)
        await end_sessions_of(person_id)
        await roster_changes.record("deactivated", actor=actor, person=person_id, cohort=None, now=now,
                                    details=f"deactivated {row['name']}")
    return row["name"]


async def reactivate(person_id: int, *, actor: int, now: datetime) -> str:
    """Restore access; the person's feed gets a new URL (the old one was revoked with the deactivation)."""
    async with write_transaction():
        row = await Person.select(Person.name, Person.active).where(Person.id == person_id).first()
        if row is None:
            raise UserError("No such person.")
        if row["active"]:
            raise UserError(f"{row['name']} is active already.")
        await Person.update({Person.active: True, Person.deactivated_at: None}).where(Person.id == person_id)
        await revoke_tokens(person_id, now=now)  # none should be left; a new URL either way
        await roster_changes.record("reactivated", actor=actor, person=person_id, cohort=None, now=now,
                                    details=f"reactivated {row['name']}")
    return row["name"]


async def end_sessions_of(person_id: int) -> int:
    """Delete every web session signed in as this person; how many. Sessions are rows of base64-encoded JSON
    (server/session_store.DatabaseStore), read here rather than tagged, so the store stays Litestar's."""
    gone = []
    for row in await WebSession.select(WebSession.id, WebSession.data):
        try:
            data = json.loads(base64.b64decode(row["data"]))
        except (ValueError, binascii.Error):
            continue
        if isinstance(data, dict) and data.get(SESSION_PERSON_KEY) == person_id:
            gone.append(row["id"])
    if gone:
        await WebSession.delete().where(WebSession.id.is_in(gone))
    return len(gone)
