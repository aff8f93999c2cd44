"""Jinja filters and globals, registered on Litestar's one Jinja environment (TemplateConfig.engine_callback),
and the email renderer's. How the environments themselves run templates: server/jinja_environment.py.

Times: instants are aware UTC datetimes; a page shows them in the viewer's zone with the zone's abbreviation
and keeps the UTC instant in the `title`/`datetime` attributes (`time_tag`).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import FileSystemLoader
from litestar.plugins.jinja import JinjaTemplateEngine
from markupsafe import Markup, escape

from planner.loading import zone_names
from server.jinja_environment import PageEnvironment
from server.services.clock import utc_text
from server.services.labels import session_label

__all__ = ["local_text", "register", "template_engine", "utc_iso", "utc_text"]

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


def template_engine(directory) -> JinjaTemplateEngine:
    """Litestar's Jinja engine on a PageEnvironment (autoescaped, as Litestar's own), with our globals."""
    # cache_size=-1: the compiled templates in a plain dict. Jinja's default LRU cache takes a lock and moves
    # the name to the back of a deque on every lookup (each page looks up its base, macros and partials).
    engine = JinjaTemplateEngine.from_environment(PageEnvironment(loader=FileSystemLoader(directory),
                                                                  autoescape=True, cache_size=-1))
    register(engine)
    return engine


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


@lru_cache(maxsize=16384)  # pure: the same instants and zones come back on every page
def local_text(instant: datetime, zone: str | None) -> str:
    """Wed 3 Mar, 09:00 EST — the instant in the viewer's zone, with the zone's abbreviation."""
    local = _aware(instant).astimezone(zone_of(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


@lru_cache(maxsize=16384)  # pure: the same instants and zones come back on every page
def local_clock(instant: datetime, zone: str | None) -> str:
    """09:00 EST."""
    local = _aware(instant).astimezone(zone_of(zone))
    return f"{local:%H:%M} {local.tzname()}"


@lru_cache(maxsize=16384)  # pure: the same instants and zones come back on every page
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


def all_zones() -> tuple[str, ...]:
    return zone_names()


@lru_cache(maxsize=16384)  # pure; the same instants come back on every page (a module's due date, a session)
def time_tag(instant: datetime | None, zone: str | None) -> Markup:
    """<time> with the instant in the viewer's zone, its UTC instant machine-readable and in the title (a template
    global, not a macro: a macro costs a call frame and a context per use, and tables call this once per cell)."""
    return Markup('<time datetime="{}" title="{}">{}</time>').format(utc_iso(instant), utc_text(instant),
                                                                      local_text(instant, zone))


@lru_cache(maxsize=16384)
def clock_tag(instant: datetime | None, zone: str | None) -> Markup:
    return Markup('<time datetime="{}" title="{}">{}</time>').format(utc_iso(instant), utc_text(instant),
                                                                      local_clock(instant, zone))


# Names the system's zone database holds that are not places a person picks (they stay valid when typed).
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def offset_text(offset) -> str:
    """timedelta(hours=5, minutes=30) -> 'UTC+05:30'."""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


@lru_cache(maxsize=1)
def _picker_zones() -> tuple[tuple[str, ZoneInfo], ...]:
    """Every zone of the picker, loaded once and kept. zoneinfo keeps only the last few zones it loaded (the rest
    weakly), so making the labels anew each minute read ~600 zone files again: 25-30 ms with the worker's
    requests waiting, once a minute (the p99 of every page with a picker). Kept, it is ~2 ms."""
    return tuple((name, ZoneInfo(name)) for name in all_zones() if name not in NOT_PLACES)


@lru_cache(maxsize=4)
def _zone_choices_at(minute: datetime) -> tuple[tuple[str, str], ...]:
    choices = []
    for name, zone in _picker_zones():
        local = minute.astimezone(zone)
        choices.append((name, f"{name.replace('_', ' ')} ({offset_text(local.utcoffset())}, now {local:%H:%M})"))
    return tuple(choices)


def zone_choices(request=None) -> tuple[tuple[str, str], ...]:
    """(zone, label) for every IANA zone zoneinfo knows, the label with the zone's offset and local time now
    (on the app's clock, so DST is the actual date's): the time-zone picker's options, without JavaScript."""
    return _zone_choices_at(_minute_now(request))


def zone_options(request, value: str | None) -> Markup:
    """The picker's <option>s with `value` selected (a value zoneinfo does not know is kept, marked so)."""
    return _zone_options_at(_minute_now(request), value or "")


def _minute_now(request) -> datetime:
    clock = getattr(getattr(getattr(request, "app", None), "state", None), "clock", None) if request else None
    instant = clock() if callable(clock) else datetime.now(UTC)
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


@lru_cache(maxsize=256)  # per minute and selected zone: the same few hundred options on every form with a picker
def _zone_options_at(minute: datetime, value: str) -> Markup:
    choices = _zone_choices_at(minute)
    options = [f'<option value="{escape(zone)}"{" selected" if zone == value else ""}>{escape(text)}</option>'
               for zone, text in choices]
    if value and value not in {zone for zone, _ in choices}:
        options.append(f'<option value="{escape(value)}" selected>{escape(value)} (not a known zone)</option>')
    return Markup("\n".join(options))


@lru_cache(maxsize=4096)  # pure; a roster asks for the same few (learner, state) groups on every view
def radio_choices(id_prefix: str, name: str, choices: tuple[str, ...], checked: str | None) -> Markup:
    """One `<label class="inline"><input type="radio">` per choice (id `{id_prefix}-{choice}`, the label the
    choice capitalised), `checked` checked. A template global: the Jinja loop it replaces was half of each row
    of a 50-learner roster page."""
    return Markup("\n".join(
        f'<label class="inline"><input type="radio" id="{escape(id_prefix)}-{escape(choice)}" name="{escape(name)}"'
        f' value="{escape(choice)}"{" checked" if choice == checked else ""}> {escape(choice.capitalize())}</label>'
        for choice in choices))


def field_error(errors, name: str) -> Markup:
    """A form field's error message under the field (`id` NAME-error, which `invalid` points at), or nothing."""
    if errors and errors.get(name):
        return Markup('<p class="field-error" id="{}-error" role="alert">{}</p>').format(name, errors[name])
    return Markup("")


def invalid(errors, name: str) -> Markup:
    """The attributes that mark a field invalid and point at its error, or nothing (inside the field's tag)."""
    if errors and errors.get(name):
        return Markup(' aria-invalid="true" aria-describedby="{}-error"').format(name)
    return Markup("")


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
        session_label=session_label,  # unit titles -> "Difficult calls · Case review" (services/labels.py)
    )
    env.globals.update(
        local_text=local_text,
        local_clock=local_clock,
        local_day=local_day,
        utc_iso=utc_iso,
        utc_text=utc_text,
        viewer=viewer,
        time_tag=time_tag,
        clock_tag=clock_tag,
        radio_choices=radio_choices,
        field_error=field_error,
        invalid=invalid,
        common_zones=COMMON_ZONES,
        all_zones=all_zones,
        zone_choices=zone_choices,
        zone_options=zone_options,
    )
    env.trim_blocks = True
    env.lstrip_blocks = True
    # Templates ship with the code: a deploy restarts the server. Jinja's default stats every template file
    # (and each include) on every render to look for edits, a dozen stat calls per page.
    env.auto_reload = os.environ.get("CADENCE_TEMPLATE_RELOAD", "") == "1"
