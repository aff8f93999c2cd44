"""Sending each message exactly once: `send_due` claims a due row with a conditional update (pending ->
sending), builds what the message says from the rows as they are now (services/notifications/content.py;
skipped when its subject went away), has the front door render and deliver it, and records the outcome:
sent, outbox (no SMTP server configured), pending again with backoff, or failed with the reason. A row a dead
worker left in `sending` becomes `unknown` (`report_interrupted`): the SMTP server may have accepted it, so it
is shown to the designer and never sent again on its own.

No Litestar or Jinja here: rendering and SMTP are passed in as callables (server/mail.py, server/mailer.py),
and `now` comes from the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.tables import Notification
from server.services.clock import check_aware
from server.services.notifications.content import message_context
from server.services.notifications.kinds import DAILY_DIGEST, State
from server.settings import Settings

MAX_ATTEMPTS = 5  # SMTP tries before a temporary failure is recorded as failed
BACKOFF = timedelta(minutes=1)  # doubled after each failed try
SEND_BATCH = 50  # per pass: a pass must not hold a worker (and the planner runs queued behind it) for long


@dataclass(frozen=True)
class Rendered:
    """What the renderer made of a message (server/mail.py): kept on the row, so the outbox shows it."""

    recipient: str
    subject: str
    text: str
    html: str
    calendar: str = ""
    message_id: str = ""


class DeliveryFailed(Exception):
    """The SMTP server refused or could not be reached. `permanent` refusals (5xx) are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


Render = Callable[[dict], Rendered]
Deliver = Callable[[Rendered, dict], Awaitable[None]]


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    outbox: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


async def send_due(now: datetime, settings: Settings, *, worker: str, render: Render,
                   deliver: Deliver | None) -> SendReport:
    """Send every row that is due: claim it, build its content, render, deliver (or keep it in the outbox when
    `deliver` is None), record the outcome. Safe to run in many workers at once."""
    check_aware(now)
    report = SendReport()
    due = await Notification.select(Notification.id).where(
        (Notification.state == State.pending) & (Notification.due_at <= now)
        & (Notification.next_attempt_at.is_null() | (Notification.next_attempt_at <= now))
    ).order_by(Notification.due_at).order_by(Notification.id).limit(SEND_BATCH)
    for row in due:
        if not await claim(row["id"], worker, now):
            continue  # another worker has it
        await _send_claimed(row["id"], now, settings, render, deliver, report)
    return report


async def claim(notification_id: int, worker: str, now: datetime) -> bool:
    """pending -> sending, only if it is still pending (the one conditional update that makes it ours)."""
    done = await Notification.update({
        Notification.state: State.sending, Notification.claimed_by: worker, Notification.claimed_at: now,
        Notification.attempts: Notification.attempts + 1,
    }).where((Notification.id == notification_id) & (Notification.state == State.pending)).returning(
        Notification.id)
    return bool(done)


async def _send_claimed(notification_id: int, now: datetime, settings: Settings, render: Render,
                        deliver: Deliver | None, report: SendReport) -> None:
    row = await Notification.select().where(Notification.id == notification_id).first()
    if row["expires_at"] is not None and row["expires_at"] <= now:
        await finish(notification_id, State.skipped, "too late: its moment passed before it could be sent", now)
        report.skipped.append(notification_id)
        return
    context = await message_context(row, now, settings)
    if isinstance(context, str):
        await finish(notification_id, State.skipped, context, now)
        report.skipped.append(notification_id)
        return
    rendered = render(context)
    await Notification.update({
        Notification.recipient: rendered.recipient, Notification.subject: rendered.subject,
        Notification.body_text: rendered.text, Notification.body_html: rendered.html,
        Notification.calendar: rendered.calendar, Notification.message_id: rendered.message_id,
    }).where(Notification.id == notification_id)
    if deliver is None:
        await finish(notification_id, State.outbox, "no SMTP server configured: kept in the outbox", now,
                      sent=True)
        await _mark_digested(row, context, notification_id)
        report.outbox.append(notification_id)
        return
    try:
        await deliver(rendered, context)
    except DeliveryFailed as failure:
        await _record_failure(row, failure, now, report)
        return
    await finish(notification_id, State.sent, "", now, sent=True)
    await _mark_digested(row, context, notification_id)
    report.sent.append(notification_id)


async def _mark_digested(row: dict, context: dict, digest_id: int) -> None:
    ids = context.get("item_ids") or []
    if row["kind"] == DAILY_DIGEST and ids:
        await Notification.update({Notification.state: State.digested, Notification.digest_id: digest_id}).where(
            Notification.id.is_in(ids) & (Notification.state == State.digest))


async def _record_failure(row: dict, failure: DeliveryFailed, now: datetime, report: SendReport) -> None:
    attempts = row["attempts"]
    if failure.permanent or attempts >= MAX_ATTEMPTS:
        words = "refused" if failure.permanent else f"gave up after {attempts} tries"
        await finish(row["id"], State.failed, f"{words}: {failure.reason}", now)
        report.failed.append(row["id"])
        return
    await Notification.update({
        Notification.state: State.pending, Notification.reason: f"try {attempts} failed: {failure.reason}",
        Notification.next_attempt_at: now + BACKOFF * (2 ** (attempts - 1)), Notification.claimed_by: "",
    }).where((Notification.id == row["id"]) & (Notification.state == State.sending))
    report.retrying.append(row["id"])


async def finish(notification_id: int, state: str, reason: str, now: datetime, *, sent: bool = False,
                  expect: Iterable[str] = (State.sending,)) -> None:
    values = {Notification.state: state, Notification.reason: reason}
    if sent:
        values[Notification.sent_at] = now
    await Notification.update(values).where((Notification.id == notification_id)
                                            & Notification.state.is_in(list(expect)))


async def report_interrupted(now: datetime, stale_after: timedelta) -> list[int]:
    """Rows a worker claimed and never finished (it died mid-send): `unknown`, never re-sent on their own —
    the SMTP server may have accepted the message before the worker died."""
    rows = await Notification.update({
        Notification.state: State.unknown,
        Notification.reason: "the worker stopped while sending: the message may or may not have gone out, "
                             "so it is not sent again",
    }).where((Notification.state == State.sending) & (Notification.claimed_at < now - stale_after)).returning(
        Notification.id)
    return [row["id"] for row in rows]
