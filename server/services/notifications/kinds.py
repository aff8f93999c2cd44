"""The kinds of email, the modes a person chooses among for each, a row's states, and a program's settings
(its reminder hours, its default mode per kind): what every other notifications module names."""

from __future__ import annotations

from dataclasses import dataclass

from models.json_value import json_value
from models.tables import (
    Notification,
    NotificationPreference,
)

State = Notification.State
Mode = NotificationPreference.Mode
MODES = tuple(mode.value for mode in Mode)
ALL_MODES = MODES
NO_DIGEST = (Mode.immediate.value, Mode.off.value)


@dataclass(frozen=True)
class Kind:
    """One kind of email a person can choose for: its label, default, the modes it offers, and whether it
    waits for the recipient's working hours."""

    name: str
    label: str
    modes: tuple[str, ...] = ALL_MODES
    default: str = Mode.immediate.value
    working_hours: bool = True


# Every kind, in the order the preferences page lists them. Invitations and session changes default to on.
KINDS = (
    Kind("assignment", "You are assigned to a program", NO_DIGEST, working_hours=False),
    Kind("invitation", "Calendar invitations and session changes", NO_DIGEST, working_hours=False),
    Kind("upcoming", "A live session is coming up"),
    Kind("prework_due", "Prework due within 48 hours"),
    Kind("prework_overdue", "Prework overdue"),
    Kind("missed_session", "You missed a live session"),
    Kind("manager_digest", "Managers: weekly digest of your reports", NO_DIGEST, working_hours=False),
    Kind("manager_escalation", "Managers: a report is not ready for a session"),
    Kind("facilitator_soon", "Facilitators: your session starts soon", NO_DIGEST, working_hours=False),
)
KIND = {kind.name: kind for kind in KINDS}
DAILY_DIGEST = "daily_digest"  # not a choice: it carries the kinds a person wants in a digest

DEFAULT_REMINDER_HOURS = (24, 1)


def reminder_hours(text: str | None) -> tuple[int, ...]:
    """A program's "24,1" as (24, 1), largest first. Raises ValueError with a readable message."""
    text = (text or "").strip()
    if not text:
        return ()
    hours: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 24 * 14:
            raise ValueError(f"{part!r} is not a whole number of hours from 1 to 336")
        hours.add(int(part))
    if len(hours) > 4:
        raise ValueError("at most 4 reminders before a session")
    return tuple(sorted(hours, reverse=True))


def program_defaults(raw) -> dict[str, str]:
    """A program's default mode per kind, only known kinds and modes kept."""
    stored = json_value(raw, {}) or {}
    return {k: v for k, v in stored.items() if k in KIND and v in KIND[k].modes}
