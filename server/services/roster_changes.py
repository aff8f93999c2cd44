"""The audit of roster and people changes (RosterChange rows): who changed what, when, to whom, in which
cohort. Append-only: a service writes its row inside the same transaction as the change it records, so a
change and its record commit together or not at all. (Attendance and completion changes have their own audit.)"""

from __future__ import annotations

from datetime import datetime

from models.tables import RosterChange
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


def _select():
    return RosterChange.select(
        RosterChange.id, RosterChange.at, RosterChange.action, RosterChange.details, RosterChange.cohort,
        RosterChange.person, RosterChange.actor.name.as_alias("actor_name"),
        RosterChange.person.name.as_alias("person_name"), RosterChange.cohort.name.as_alias("cohort_name"),
    )


async def of_cohort(cohort_id: int, limit: int = 50) -> list[dict]:
    """The cohort's latest changes, newest first."""
    return await _select().where(RosterChange.cohort == cohort_id).order_by(
        RosterChange.id, ascending=False).limit(limit)


async def of_person(person_id: int, limit: int = 50) -> list[dict]:
    return await _select().where(RosterChange.person == person_id).order_by(
        RosterChange.id, ascending=False).limit(limit)


async def latest(limit: int = 50) -> list[dict]:
    """The latest changes everywhere (the people page), newest first."""
    return await _select().order_by(RosterChange.id, ascending=False).limit(limit)
