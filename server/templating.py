"""Jinja filters and globals, registered on Litestar's one Jinja environment (TemplateConfig.engine_callback).

Times: instants are aware UTC datetimes; a page shows them in the viewer's zone with the zone's abbreviation
and keeps the UTC instant in the `title`/`datetime` attributes (`time_tag`).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from functools import lru_cache
from types import BuiltinFunctionType, FunctionType, MethodType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import markupsafe
from jinja2 import Environment, FileSystemLoader
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context, Macro
from jinja2.utils import internalcode
from litestar.plugins.jinja import JinjaTemplateEngine
from markupsafe import Markup, escape

from planner.loading import zone_names
from server.services.clock import utc_text
from server.services.labels import session_label

__all__ = ["PageEnvironment", "RowsEnvironment", "local_text", "register", "template_engine", "utc_iso", "utc_text"]

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


# MarkupSafe's escaping of a str (C in its speedups); its public `escape` wraps the same call in a Markup.
_escape_text = getattr(markupsafe, "_escape_inner", None) or (lambda text: str(escape(text)))


def output_text(value) -> str:
    """What `{{ value }}` writes in an autoescaped template: exactly `str(markupsafe.escape(value))`.

    Jinja wraps each output in `escape()`, which builds a Markup (a Python `__new__`) that the page's join only
    turns back into text: about 0.45 us per `{{ }}`, a few hundred times per page. This returns the same text
    in about 0.06 us for a str, an int or a Markup (checked against `escape` by a test)."""
    kind = type(value)
    if kind is str:
        return _escape_text(value)
    if kind is Markup:
        return value
    if kind is int:
        return str(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _escape_text(str(value))


def character_references(text: str) -> str:
    """`text` in ASCII: every other character as an HTML character reference ("·" -> "&#183;"), which a browser
    reads back as the character in text, attributes, titles and text areas alike."""
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def ascii_output_text(value) -> str:
    """`output_text`, in ASCII (see `PageEnvironment`)."""
    kind = type(value)
    if kind is int:
        return str(value)
    text = _escape_text(value) if kind is str else value if kind is Markup else output_text(value)
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


class _OutputCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `environment.output_text(x)` for each `{{ x }}` in autoescaped templates
    instead of `escape(x)` (Jinja's documented `Environment.code_generator_class` hook; a test checks that the
    compiled code uses it)."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.output_text(")
        if finalize.src is not None:
            self.write(finalize.src)

    def _output_const_repr(self, group) -> str:
        if getattr(self.environment, "ascii_pages", False):  # the template's own text, once, at compile time
            return repr(character_references("".join(map(str, group))))
        return super()._output_const_repr(group)


class CallContext(Context):
    """Jinja's context, with a shorter way to call a plain function, a macro or a built-in method.

    Every call in a template (`time_tag(...)`, a macro per row, `errors.get(...)`) goes through `Context.call`,
    which asks the callable and its `__call__` whether they want the context, the evaluation context or the
    environment passed first (`pass_context` & co.): about 1 us a call, and a page makes dozens to hundreds.
    A function or a built-in method that carries no such mark gets exactly the arguments written, so it is
    called at once, and a macro with the evaluation context, as Jinja calls it; everything else (marked
    functions, callable objects, Undefined) takes Jinja's way.
    """

    @internalcode
    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature (a keyword may be `self`)
        kind = type(__obj)
        if kind is Macro:  # its __call__ is marked pass_eval_context (a test checks): given, as Jinja gives it
            args = (__self.eval_ctx, *args)
        elif kind not in _PLAIN_CALLABLES or hasattr(__obj, "jinja_pass_arg"):
            return Context.call(__self, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined("value was undefined because a callable raised a"
                                                " StopIteration exception")


# The callables whose pass_* mark, if any, is on themselves (a callable object's is on its __call__).
_PLAIN_CALLABLES = frozenset({FunctionType, BuiltinFunctionType, MethodType, type(lru_cache()(len))})

_DICT_ATTRIBUTES = frozenset(dir(dict))  # what `getattr(a_dict, name)` finds: a plain dict has no other attributes


class RowsEnvironment(Environment):
    """A Jinja environment that reads `row.column` from a plain dict without raising an exception first.

    Jinja's `x.name` tries `getattr(x, "name")` and only then `x["name"]`. The rows every page renders are
    dicts (`server.db.fetch`), so each `{{ row.name }}` raised and caught an AttributeError: 0.7 us instead of
    0.1 us, twenty times per table row. A plain dict's attributes are exactly `dir(dict)`, so asking for the
    item first for every other name gives the same answer as Jinja's rule, only sooner.

    Its templates also write each autoescaped `{{ x }}` with `output_text` (above)."""

    code_generator_class = _OutputCodeGenerator
    context_class = CallContext
    output_text = staticmethod(output_text)

    def make_globals(self, d):
        """A template's globals as a plain dict (the environment's, then the template's own), not Jinja's ChainMap.

        Every context Jinja makes (each render, include and imported macro file: five or six per page) copies the
        globals with `dict(globals)` and `set(globals)`; on a ChainMap both iterate and look up key by key in
        Python, about 15 us for our two dozen globals, where a dict copies in C. Jinja asks that globals not change
        once a template is loaded; ours are all registered when the app is built, before any template loads."""
        return {**self.globals, **d} if d else dict(self.globals)

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        try:  # Jinja's own rule, written out: a call to super() on every other lookup cost a frame more
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


class PageEnvironment(RowsEnvironment):
    """The pages' environment: a RowsEnvironment whose pages come out in ASCII.

    A page is encoded to UTF-8 bytes once rendered. Python holds a str with one "·" or "←" in a wider form, and
    encoding that costs about 1 ns per character: 100 us for the people page (100 KB), a tenth of its time,
    against 1 us for the same page in ASCII. So the pages write every other character as an HTML character
    reference, which browsers read back as the same character: the template's own text once, when it is
    compiled, and each `{{ x }}` when it is written (`str.isascii` is a flag lookup). Our templates have no
    inline <script> or <style>, the only places where a reference would stay as written. Emails keep their
    characters (server/mail.py uses a RowsEnvironment)."""

    ascii_pages = True
    output_text = staticmethod(ascii_output_text)


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
