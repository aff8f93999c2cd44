"""Facilitators' absences: whole days in the facilitator's own zone, stored as UTC instants, listed for the
pages. Re-plans treat them as busy time (`server.services.planning.absences_as_busy`).

An absence of days `first`..`last` runs from local midnight starting `first` to local midnight after `last`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.tables import Absence
from planner.coverage import local_date, local_midnight
from server.db import fetch, in_list

LONGEST_ABSENCE_DAYS = 366


def instants(first: date, last: date, zone_name: str) -> tuple[datetime, datetime]:
    """[local midnight of `first`, local midnight after `last`) in `zone_name`, as UTC instants."""
    return local_midnight(first, zone_name), local_midnight(last + timedelta(days=1), zone_name)


def days_of(starts_at: datetime, ends_at: datetime, zone_name: str) -> tuple[date, date]:
    """The first and last local day an absence covers (it ends at the midnight after its last day)."""
    return local_date(starts_at, zone_name), local_date(ends_at - timedelta(microseconds=1), zone_name)


async def record(person_id: int, zone_name: str, first: date, last: date, note: str, *,
                 created_by: int | None) -> None:
    """The days `first`..`last` away, in `zone_name` (the person's own zone)."""
    starts_at, ends_at = instants(first, last, zone_name)
    await Absence(person=person_id, starts_at=starts_at, ends_at=ends_at, note=note, created_by=created_by).save()


async def upcoming(person_ids: list[int], now: datetime) -> list[dict]:
    """Absences of these people that have not ended yet, soonest first, with the local days they cover in
    each person's own zone (`first_day`, `last_day`) and the person's `name` and `timezone`."""
    if not person_ids:
        return []
    ids = list(person_ids)
    rows = await fetch(
        f"SELECT a.*, p.name, p.timezone FROM absence a JOIN person p ON p.id = a.person"
        f" WHERE a.person IN ({in_list(ids)}) AND a.ends_at > {{}} ORDER BY a.starts_at, a.id", *ids, now)
    for row in rows:
        row["first_day"], row["last_day"] = days_of(row["starts_at"], row["ends_at"], row["timezone"])
    return rows


async def delete_of(absence_id: int, person_ids: list[int]) -> bool:
    """Delete the absence if it belongs to one of these people; False when there is no such absence."""
    found = await Absence.exists().where((Absence.id == absence_id) & Absence.person.is_in(list(person_ids) or [0]))
    if found:
        await Absence.delete().where(Absence.id == absence_id)
    return found
