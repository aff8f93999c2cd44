"""The app's plumbing: static htmx, health check, error pages, sessions in the database, settings errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from web_helpers import make_person, run, sign_in, web_client

from server.session_store import DatabaseStore
from server.settings import ConfigError, Settings
from server.templating import local_text, utc_iso, utc_text


def test_htmx_is_served_from_the_npm_package(db):
    with web_client() as client:
        response = client.get("/static/htmx.min.js")
        css = client.get("/static/cadence.css")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "htmx" in response.text[:2000]
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


def test_healthz(db):
    with web_client() as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"
    assert "cadence_session" not in response.headers.get("set-cookie", "")


def test_unknown_page_is_a_readable_404(db):
    with web_client() as client:
        response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>Not found" in response.text
    assert "Traceback" not in response.text


def test_no_openapi_schema(db):
    with web_client() as client:
        assert client.get("/schema").status_code == 404


def test_pages_carry_htmx_and_the_csrf_header(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        sign_in(client, "dee@example.org")
        page = client.get("/profile").text
    assert '<script src="/static/htmx.min.js" defer></script>' in page
    assert 'hx-boost="true"' in page
    header = re.search(r"""hx-headers='\{"x-csrftoken": "([^"]+)"\}'""", page)
    assert header and len(header.group(1)) > 20


def test_production_without_secret_is_a_config_error():
    with pytest.raises(ConfigError, match="CADENCE_SECRET_KEY: required when CADENCE_ENV=production"):
        Settings.from_env({"CADENCE_ENV": "production"})
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Settings.from_env({"CADENCE_SECRET_KEY": "short"})


def test_time_formatting_in_the_viewers_zone():
    instant = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)
    assert utc_iso(instant) == "2027-03-03T14:00:00Z"
    assert utc_text(instant) == "2027-03-03 14:00 UTC"
    assert local_text(instant, "America/New_York") == "Wed 3 Mar, 09:00 EST"
    assert local_text(instant, "Asia/Kolkata") == "Wed 3 Mar, 19:30 IST"
    with pytest.raises(ValueError):
        utc_iso(datetime(2027, 3, 3, 14, 0))


def test_time_tag_shows_the_viewers_local_time_and_keeps_the_utc_instant():
    """One source for <time> tags: the template globals (cached per instant and zone), no macro of that name."""
    from pathlib import Path

    from server.app import TEMPLATES
    from server.templating import clock_tag, time_tag

    night = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # half an hour before London moves to BST
    utc = 'datetime="2027-03-28T00:30:00Z" title="2027-03-28 00:30 UTC"'
    assert str(time_tag(night, "Europe/London")) == f"<time {utc}>Sun 28 Mar, 00:30 GMT</time>"
    assert str(time_tag(night, "America/St_Johns")) == f"<time {utc}>Sat 27 Mar, 22:00 NDT</time>"  # UTC-2:30
    assert str(clock_tag(night, None)) == f"<time {utc}>00:30 UTC</time>"
    later = night.replace(hour=1)
    assert str(time_tag(later, "Europe/London")).endswith(">Sun 28 Mar, 02:30 BST</time>")
    # the cache keys on the instant, not on how it is written: the same instant in another zone is the same tag
    from zoneinfo import ZoneInfo

    assert time_tag(night.astimezone(ZoneInfo("Asia/Tokyo")), "Europe/London") == time_tag(night, "Europe/London")
    for template in Path(TEMPLATES).rglob("*.html"):
        assert "macro time_tag" not in template.read_text() and "import time_tag" not in template.read_text(), template


def test_templates_read_a_dict_row_as_jinja_does_and_escape_it():
    """`row.column` on a dict (what hand-written reads return) gives exactly what Jinja's own rule gives: the
    item, a dict method when the name is one, undefined when missing; the app's environment autoescapes."""
    from jinja2 import Environment, StrictUndefined

    from server.app import create_app
    from server.jinja_environment import RowsEnvironment

    source = "{{ r.name }}|{{ r.id }}|{{ r.items is callable }}|{{ r.nope is defined }}|{{ r.get('id') }}|{{ o.real }}"
    row = {"name": "<b>Ann</b>", "id": 7, "items": "column shadowed by the method, as in Jinja"}
    for strict in (False, True):
        options = {"autoescape": True, **({"undefined": StrictUndefined} if strict else {})}
        ours, jinja = RowsEnvironment(**options), Environment(**options)
        assert ours.from_string(source).render(r=row, o=3) == jinja.from_string(source).render(r=row, o=3)
    assert RowsEnvironment(autoescape=True).from_string(source).render(r=row, o=3) == \
        "&lt;b&gt;Ann&lt;/b&gt;|7|True|False|7|3"
    with pytest.raises(Exception, match="nope"):
        RowsEnvironment(undefined=StrictUndefined).from_string("{{ r.nope }}").render(r=row)
    environment = create_app().template_engine.engine
    assert isinstance(environment, RowsEnvironment) and environment.autoescape is True
    assert "time_tag" in environment.globals and "csrf_token" in environment.globals
    # a template's globals: a plain dict (copied in C for each context), the environment's then its own
    template = environment.from_string("{{ time_tag is defined }}|{{ mine }}", globals={"mine": 3})
    assert type(template.globals) is dict and template.render() == "True|3"
    assert "mine" not in environment.globals and environment.from_string("{{ mine }}").render() == ""


def test_each_output_is_written_as_markupsafe_escape_writes_it():
    """`{{ x }}` in our autoescaped templates goes through `output_text`, not Jinja's `escape`: the compiled code
    uses it (so a Jinja upgrade that drops the hook fails here), and every kind of value comes out exactly as
    Jinja's own environment writes it, in pages, macros, `{% set %}` blocks and filter blocks."""
    from jinja2 import ChainableUndefined, Environment, StrictUndefined, Undefined
    from markupsafe import Markup, escape

    from server.jinja_environment import RowsEnvironment, output_text

    class Html:
        def __html__(self):
            return "<i>mine</i>"

    class Plain:
        def __str__(self):
            return "a < b & 'c' \"d\""

    class Text(str):
        pass

    values = ["<b>Ann & 'Bo'</b>", "", 7, -2, True, None, 2.5, Markup("<em>ok</em>"), Html(), Plain(),
              Text("<x>"), [1, "<"], {"k": ">"}, Undefined(), ChainableUndefined()]
    for value in values:
        assert output_text(value) == str(escape(value)), value
    source = ("{% macro m(v) %}[{{ v }}]{% endmacro %}{{ v }}|{{ m(v) }}|{% set b %}<{{ v }}>{% endset %}{{ b }}|"
              "{% filter upper %}{{ v }}{% endfilter %}|{{ v ~ '&' }}|{% autoescape false %}{{ v }}{% endautoescape %}")
    for value in values:
        assert RowsEnvironment(autoescape=True).from_string(source).render(v=value) == \
            Environment(autoescape=True).from_string(source).render(v=value), value
    for undefined in (Undefined, ChainableUndefined):
        options = {"autoescape": True, "undefined": undefined}
        assert RowsEnvironment(**options).from_string("[{{ nope }}]").render() == \
            Environment(**options).from_string("[{{ nope }}]").render() == "[]"
    with pytest.raises(Exception, match="nope"):
        RowsEnvironment(autoescape=True, undefined=StrictUndefined).from_string("{{ nope }}").render()
    assert "environment.output_text(" in RowsEnvironment(autoescape=True).compile("{{ v }}", raw=True)
    assert "output_text" not in RowsEnvironment(autoescape=False).compile("{{ v }}", raw=True)


def test_a_run_of_text_and_outputs_is_yielded_once_with_what_jinja_writes():
    """Our templates yield each run of template text and `{{ }}`s as one string (Jinja yields every piece, and
    each passes through every block and base template above it); the page is exactly Jinja's, in blocks of an
    extended template, loops, conditions, includes, macros and with autoescape on and off."""
    from jinja2 import DictLoader, Environment
    from markupsafe import Markup

    from server.jinja_environment import RowsEnvironment

    templates = {
        "base.html": "<html>{{ title }}|{% block body %}base{{ 1 }}{% endblock %}|{% include 'part.html' %}</html>",
        "part.html": "<p>{{ v }} and {{ w }}</p>{% if v %}<i>{{ v }}</i>{% endif %}",
        "page.html": ("{% extends 'base.html' %}{% macro m(x) %}[{{ x }}|{{ x }}]{% endmacro %}"
                      "{% block body %}{% for r in rows %}<tr><td>{{ r.a }}</td><td>{{ m(r.a) }}</td>{{ loop.index }}"
                      "</tr>{% else %}none {{ v }}{% endfor %}{{ super() }}{% endblock %}"),
    }
    values = {"title": "T & t", "v": "<b>", "w": Markup("<em>ok</em>"), "rows": [{"a": "x<"}, {"a": 2}]}
    for autoescape in (True, False):
        ours, jinja = (kind(loader=DictLoader(templates), autoescape=autoescape)
                       for kind in (RowsEnvironment, Environment))
        for name in templates:
            for rows in (values["rows"], []):
                assert ours.get_template(name).render(values, rows=rows) == \
                    jinja.get_template(name).render(values, rows=rows), (name, autoescape)
        pieces = list(ours.get_template("page.html").generate(values))
        assert len(pieces) < len(list(jinja.get_template("page.html").generate(values))) / 2
        if autoescape:
            assert "<tr><td>x&lt;</td><td>[x&lt;|x&lt;]</td>1</tr>" in pieces  # one row, one piece
    assert "yield environment.pieces.extend((" in RowsEnvironment().compile("<p>{{ v }}</p>", raw=True)


def test_calls_in_templates_get_what_jinjas_context_gives_them():
    """Our context calls an unmarked function, macro or built-in method at once (Jinja's `Context.call` asks
    each for pass_* marks first); every kind of callable gets exactly what Jinja's own context gives it."""
    from functools import lru_cache

    from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
    from jinja2.runtime import Macro
    from jinja2.utils import _PassArg

    from server.jinja_environment import CallContext, RowsEnvironment

    assert Macro.__call__.jinja_pass_arg is _PassArg.eval_context  # how our context calls a macro

    class Greeter:
        @pass_context
        def __call__(self, context, name):
            return f"{context.get('greeting')} {name}"

    def stops():
        raise StopIteration

    names = {
        "plain": lambda *a, **k: f"plain{a}{sorted(k.items())}",
        "cached": lru_cache()(lambda x: f"cached {x}"),
        "ctx": pass_context(lambda c, x: f"ctx {c.get('greeting')} {x} {sorted(c.get_all())[:3]}"),
        "env": pass_environment(lambda e, x: f"env {type(e).__name__ != ''} {x}"),
        "evalctx": pass_eval_context(lambda e, x: f"eval {e.autoescape} {x}"),
        "cached_ctx": lru_cache()(pass_context(lambda c, x: f"cctx {c.get('greeting')} {x}")),
        "greeter": Greeter(), "stops": stops, "row": {"a": 1}, "greeting": "hi",
    }
    source = ("{% macro m(x, y=2) %}[{{ x }}{{ y }}{{ varargs }}{{ kwargs }}{{ caller() if caller }}]{% endmacro %}"
              "{{ plain(1, k=2) }}|{{ cached(3) }}|{{ ctx(4) }}|{{ env(5) }}|{{ evalctx(6) }}|{{ cached_ctx(7) }}|"
              "{{ greeter('Ann') }}|{{ stops() is undefined }}|{{ row.get('a') }}|{{ m(1) }}|{{ m(1, 3, 4, z=5) }}|"
              "{% call m(9) %}inner{% endcall %}|"
              "{% for i in [1, 2] %}{% set greeting = 'yo' %}{{ ctx(i) }}{{ m(i) }}{{ plain(i) }}{% endfor %}|"
              "{% set greeting = 'set' %}{{ ctx(8) }}|{% autoescape false %}{{ m('<b>') }}{% endautoescape %}|"
              "{% macro n(a, b) %}<{{ a }}|{{ b }}>{% endmacro %}{{ n('<i>', 2) }}{{ n('<i>', 2) | length }}"
              "{% for i in ['<', '>'] %}{{ n(i, loop.index) }}{% endfor %}{% autoescape false %}{{ n('<i>', 3) }}"
              "{{ n('<i>', 3) | length }}{% endautoescape %}{{ n('x') }}{{ n('x', b='<') }}")
    ours = RowsEnvironment(autoescape=True).from_string(source).render(**names)
    assert ours == Environment(autoescape=True).from_string(source).render(**names)
    assert "ctx yo 1" in ours and "ctx set 8" in ours and "hi Ann" in ours
    assert RowsEnvironment.context_class is CallContext


def test_pages_are_written_in_ascii_and_read_back_as_the_same_characters():
    """The pages' environment writes every non-ASCII character, the template's own and each value's, as a
    character reference; read back, the page is exactly what Jinja writes. Emails keep their characters."""
    import html

    from markupsafe import Markup

    from server.app import create_app
    from server.jinja_environment import PageEnvironment, RowsEnvironment

    source = ("<h1 title=\"{{ v }} · x\">← {{ v }}</h1>{% macro m(v) %}“{{ v }}”{% endmacro %}{{ m(v) }}"
              "{% set b %}–{{ v }}{% endset %}{{ b }}<textarea>{{ v }}</textarea>{{ '→' }}{{ 7 }}")
    values = ["Zoë & “Bo” <b>", "plain", "日本 😀", Markup("<em>Inês</em>"), 3, None]
    for value in values:
        page = PageEnvironment(autoescape=True).from_string(source).render(v=value)
        assert page.isascii(), page
        assert html.unescape(page) == html.unescape(RowsEnvironment(autoescape=True).from_string(source)
                                                    .render(v=value)), value
    assert "&#8592;" in PageEnvironment(autoescape=True).compile(source, raw=True)  # the template's text, once
    assert isinstance(create_app().template_engine.engine, PageEnvironment)
    from server.mail import _environment

    assert not isinstance(_environment(), PageEnvironment)
    assert _environment().from_string("{{ v }} ·").render(v="Zoë") == "Zoë ·"


def test_the_zone_picker_loads_its_zones_once_not_each_minute(monkeypatch):
    """Its labels (offset and local time now) are made anew each minute from zones loaded once: reading ~600
    zone files each minute held a worker for 25-30 ms."""
    from datetime import UTC, datetime, timedelta

    import server.templating as templating

    templating._zone_choices_at.cache_clear()
    first = templating._zone_choices_at(datetime(2027, 3, 28, 0, 59, tzinfo=UTC))
    loaded = []
    monkeypatch.setattr(templating, "ZoneInfo", lambda name: loaded.append(name))
    later = templating._zone_choices_at(datetime(2027, 3, 28, 1, 0, tzinfo=UTC) + timedelta(minutes=1))
    assert loaded == [] and len(later) == len(first) > 400
    london = dict(later)["Europe/London"]
    assert london == "Europe/London (UTC+01:00, now 02:01)", london  # the actual date's offset: BST began
    assert dict(first)["Europe/London"] == "Europe/London (UTC+00:00, now 00:59)"


def test_field_errors_and_invalid_marks_are_escaped_and_empty_without_an_error():
    from jinja2 import Undefined

    from server.templating import field_error, invalid

    errors = {"email": "<b>bad</b> & wrong"}
    assert str(field_error(errors, "email")) == \
        '<p class="field-error" id="email-error" role="alert">&lt;b&gt;bad&lt;/b&gt; &amp; wrong</p>'
    assert str(invalid(errors, "email")) == ' aria-invalid="true" aria-describedby="email-error"'
    for nothing in ({}, None, Undefined(), {"email": ""}):
        assert field_error(nothing, "email") == "" and invalid(nothing, "email") == ""


def test_a_served_worker_freezes_what_start_up_made_and_the_app_of_the_tests_does_not(tmp_path):
    """`cadence serve` workers move start-up's objects out of full garbage collections (gc.freeze: a full pass
    over them took ~60 ms of a request's time); `create_app`, which the tests use, freezes nothing. In a
    subprocess, so this test run's own collector is left alone."""
    import os
    import pathlib
    import subprocess
    import sys

    script = ("import gc\nfrom litestar.testing import TestClient\nfrom server.app import create_app, create_served_app\n"
              "with TestClient(create_app()) as client:\n    assert client.get('/healthz').text == 'ok'\n"
              "print(gc.get_freeze_count())\n"
              "with TestClient(create_served_app()) as client:\n    assert client.get('/healthz').text == 'ok'\n"
              "print(gc.get_freeze_count())\n")
    env = {**os.environ, "CADENCE_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                          cwd=pathlib.Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    plain, served = (int(line) for line in done.stdout.split())
    assert plain == 0 and served > 50_000


@pytest.mark.anyio
async def test_database_store_round_trip(db):
    store = DatabaseStore()
    await store.set("k1", b"\x00hello", expires_in=60)
    assert await store.get("k1") == b"\x00hello"
    assert await store.exists("k1")
    assert 0 < await store.expires_in("k1") <= 60
    await store.set("k1", "again", expires_in=timedelta(seconds=30))
    assert await store.get("k1") == b"again"
    await store.set("old", b"x", expires_in=-1)  # already expired
    assert await store.get("old") is None
    assert not await store.exists("old")
    other = store.with_namespace("other")
    await other.set("k1", b"separate")
    assert await store.get("k1") == b"again"
    await other.delete_all()
    assert await store.get("k1") == b"again"
    await store.delete("k1")
    assert await store.get("k1") is None


def test_sessions_are_shared_by_two_app_instances(db):
    """Two apps (as two worker processes would be) serve the same signed-in session from the database."""
    make_person("dee@example.org", "designer", name="Dee Signer")
    with web_client() as first:
        sign_in(first, "dee@example.org")
        cookie = first.cookies.get("cadence_session")
    with web_client() as second:
        second.cookies.set("cadence_session", cookie, domain="testserver.local")
        page = second.get("/profile")
    assert page.status_code == 200
    assert "Dee Signer" in page.text
    assert run(_expiry_is_aware())


async def _expiry_is_aware() -> bool:
    from models.tables import WebSession

    row = await WebSession.select(WebSession.expires_at).first()
    return row["expires_at"].tzinfo is not None and row["expires_at"] > datetime.now(UTC)


def test_missing_htmx_stops_the_app_with_a_clear_message(monkeypatch, tmp_path):
    import server.app

    monkeypatch.setattr(server.app, "HTMX_DIST", tmp_path / "node_modules" / "htmx.org" / "dist")
    with pytest.raises(ConfigError, match="run `make install`"):
        server.app.create_app(Settings.from_env())


def test_sign_in_attempts_are_rate_limited(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        statuses = [sign_in(client, "dee@example.org", "wrong password").status_code for _ in range(21)]
        assert statuses[:20] == [401] * 20
        assert statuses[20] == 429
        assert "<h1>" in sign_in(client, "dee@example.org", "wrong password").text  # a readable page


def test_an_unchanged_session_is_not_written_again(db):
    from models.tables import WebSession

    make_person("dee@example.org", "designer")
    with web_client() as client:
        sign_in(client, "dee@example.org")
        before = run(WebSession.select(WebSession.key, WebSession.expires_at))
        page = client.get("/profile")
        assert page.status_code == 200
        assert "cadence_session" not in page.headers.get("set-cookie", "")
        assert run(WebSession.select(WebSession.key, WebSession.expires_at)) == before
        assert len(before) == 1


def test_security_headers(db):
    with web_client() as client:
        page = client.get("/signin")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "HttpOnly" in page.headers["set-cookie"]


def test_no_template_imports_macros_with_context():
    """A `{% from ... import ... with context %}` makes Jinja build the imported template's module again on every
    render (an import without context is built once): a macro that needs something of the page is given it."""
    templates = Path(__file__).resolve().parent.parent / "web" / "templates"
    importing = re.compile(r"{%-?\s*(from|import)\b[^%]*\bwith\s+context\b")
    offenders = [str(path.relative_to(templates)) for path in sorted(templates.rglob("*.html"))
                 if importing.search(path.read_text())]
    assert not offenders, offenders
