"""Jinja filters and globals, registered on Litestar's one Jinja environment (TemplateConfig.engine_callback).

Times: instants are aware UTC datetimes; a page shows them in the viewer's zone with the zone's abbreviation
and keeps the UTC instant in the `title`/`datetime` attributes (macros.html `time_tag`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from litestar.plugins.jinja import JinjaTemplateEngine

from server.services.clock import utc_text

__all__ = ["local_text", "register", "utc_iso", "utc_text"]

COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def zone_of(name: str | None) -> ZoneInfo:
    """The viewer's zone; an unknown or empty name falls back to UTC rather than breaking a page."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime reached a template: {instant!r}")
    return instant


def utc_iso(instant: datetime) -> str:
    """2027-03-03T14:00:00Z, for `<time datetime>`."""
    return _aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(instant: datetime, zone: str | None) -> str:
    """Wed 3 Mar, 09:00 EST — the instant in the viewer's zone, with the zone's abbreviation."""
    local = _aware(instant).astimezone(zone_of(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


def local_clock(instant: datetime, zone: str | None) -> str:
    """09:00 EST."""
    local = _aware(instant).astimezone(zone_of(zone))
    return f"{local:%H:%M} {local.tzname()}"


def local_day(instant: datetime, zone: str | None) -> str:
    """Wed 3 Mar 2027, in the viewer's zone."""
    local = _aware(instant).astimezone(zone_of(zone))
    return f"{local:%a} {local.day} {local:%b %Y}"


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def minutes_text(minutes: int | float) -> str:
    """95 -> '1 h 35 min'."""
    minutes = int(round(minutes))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def all_zones() -> list[str]:
    return sorted(available_timezones())


def viewer(request) -> object | None:
    """The signed-in Person (or None) — also on error pages rendered before the user was loaded."""
    return request.scope.get("user") if request is not None else None


def register(engine: JinjaTemplateEngine) -> None:
    register_environment(engine.engine)


def register_environment(env) -> None:
    """The filters and globals on a Jinja environment: Litestar's, and the email renderer's (server/mail.py,
    which runs in the worker, where there is no Litestar app)."""
    env.filters.update(
        utc_iso=utc_iso,
        utc_text=utc_text,
        minutes=minutes_text,
        percent=percent,
        day=day_text,
    )
    env.globals.update(
        local_text=local_text,
        local_clock=local_clock,
        local_day=local_day,
        utc_iso=utc_iso,
        utc_text=utc_text,
        viewer=viewer,
        common_zones=COMMON_ZONES,
        all_zones=all_zones,
    )
    env.trim_blocks = True
    env.lstrip_blocks = True
