"""Daily digests: the items a person wants gathered (`digest` rows of server/services/notifications/due.py)
become one `daily_digest` notification per person and working day, sent at the start of their day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models.tables import Notification, Person
from server.services.notifications.kinds import DAILY_DIGEST, State
from server.services.notifications.recipients import PERSON_COLUMNS, Recipient, as_recipient, work_day_start


async def schedule_digests(now: datetime, people: dict[int, Recipient]) -> int:
    """A daily digest per person with items waiting: at the start of the working day on which the earliest
    waiting item is due (the last working day before it, on a day off), carrying the items due by the next
    day's start. `people`: recipients already read (those missing are read and added)."""
    waiting = await Notification.select(Notification.person, Notification.due_at).where(
        (Notification.state == State.digest) & (Notification.digest_id.is_null()))
    earliest: dict[int, datetime] = {}
    for row in waiting:
        earliest[row["person"]] = min(earliest.get(row["person"], row["due_at"]), row["due_at"])
    missing = [p for p in earliest if p not in people]
    if missing:
        for row in await Person.select(*PERSON_COLUMNS).where(Person.id.is_in(missing)):
            people[row["id"]] = as_recipient(row)
    rows = []
    for person, first in earliest.items():
        recipient = people.get(person)
        if recipient is None:
            continue
        due = work_day_start(first, recipient)
        local_day = due.astimezone(ZoneInfo(recipient.timezone)).date()
        rows.append(Notification(key=f"{DAILY_DIGEST}:{person}:{local_day.isoformat()}", kind=DAILY_DIGEST,
                                 person=person, occasion=local_day.isoformat(), state=State.pending, due_at=due,
                                 expires_at=due + timedelta(days=2), created_at=now))
    if not rows:
        return 0
    done = await Notification.insert(*rows).on_conflict(target=Notification.key, action="DO NOTHING").returning(
        Notification.id)
    return len(done)
