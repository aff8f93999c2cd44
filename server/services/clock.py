"""The one clock, and the one way an instant is written in words.

Front doors read the time once per request or command (`utc_now`, or the clock handed to `create_app`) and
pass it down as `now`; no service reads the clock itself, so tests pin it by passing an instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, as an aware UTC instant."""
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    """A clock that always reads `instant` (tests, and pages pinned to the fixed instants of their data)."""
    check_aware(instant)
    return lambda: instant


def check_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC instant")


def utc_text(instant: datetime) -> str:
    """2027-03-03 14:00 UTC."""
    check_aware(instant)
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
