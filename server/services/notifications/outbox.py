"""The designer's outbox: every message row by state, and one message as it was rendered."""

from __future__ import annotations

from piccolo.query.functions.aggregate import Count

from models.tables import Notification
from server.services.notifications.kinds import State

OUTBOX_STATES = (State.outbox, State.sent, State.failed, State.unknown, State.pending, State.sending,
                 State.skipped, State.withdrawn, State.digest, State.digested)
PAGE = 100


async def outbox(*, state: str | None = None) -> dict:
    """The designer's view: counts per state, and the latest messages (all, or of one state)."""
    where = Notification.state == state if state else Notification.id > 0
    rows = await Notification.select(
        Notification.id, Notification.kind, Notification.state, Notification.subject, Notification.reason,
        Notification.due_at, Notification.sent_at, Notification.method, Notification.attempts,
        Notification.person.name.as_alias("person_name"), Notification.person.email.as_alias("person_email"),
        Notification.person.timezone.as_alias("person_timezone"),
    ).where(where).order_by(Notification.due_at, ascending=False).order_by(Notification.id, ascending=False).limit(PAGE)
    counts = await Notification.select(Notification.state, Count(alias="n")).group_by(
        Notification.state)
    return {"rows": rows, "counts": {c["state"]: c["n"] for c in counts}, "state": state}


async def message(notification_id: int) -> dict | None:
    return await Notification.select(
        *Notification.all_columns(), Notification.person.name.as_alias("person_name"),
        Notification.person.email.as_alias("person_email"),
        Notification.person.timezone.as_alias("person_timezone"),
    ).where(Notification.id == notification_id).first()
