"""The audit of roster and people changes (RosterChange rows): who changed what, when, to whom, in which
cohort. Append-only: a service writes its row inside the same transaction as the change it records, so a
change and its record commit together or not at all. (Attendance and completion changes have their own audit.)"""

from __future__ import annotations

from datetime import datetime

from models.tables import RosterChange
from server.db import fetch
from server.services.clock import check_aware

ACTIONS = tuple(action.value for action in RosterChange.Action)


async def record(action: str, *, actor: int | None, person: int | None, cohort: int | None, details: str,
                 now: datetime) -> None:
    """Write one audit row; call it inside the change's own transaction."""
    check_aware(now)
    if action not in ACTIONS:
        raise ValueError(f"unknown roster change {action!r}")
    await RosterChange.insert(RosterChange(at=now, actor=actor, action=action, person=person, cohort=cohort,
                                           details=details[:2000]))


# The changes a page lists, newest first: `{where}` is SQL on `r` (the roster_change row).
_CHANGES = (
    "SELECT r.id, r.at, r.action, r.details, r.cohort, r.person, a.name AS actor_name, p.name AS person_name,"
    " c.name AS cohort_name FROM roster_change r LEFT JOIN person a ON a.id = r.actor"
    " LEFT JOIN person p ON p.id = r.person LEFT JOIN cohort c ON c.id = r.cohort"
    " WHERE {where} ORDER BY r.id DESC LIMIT {limit}"
)


def _changes(where: str, limit: int) -> str:
    return _CHANGES.replace("{where}", where).replace("{limit}", str(int(limit)))


async def of_cohort(cohort_id: int, limit: int = 50) -> list[dict]:
    """The cohort's latest changes, newest first."""
    return await fetch(_changes("r.cohort = {}", limit), cohort_id)


async def of_person(person_id: int, limit: int = 50) -> list[dict]:
    return await fetch(_changes("r.person = {}", limit), person_id)


async def latest(limit: int = 50) -> list[dict]:
    """The latest changes everywhere (the people page), newest first."""
    return await fetch(_changes("1 = 1", limit))
