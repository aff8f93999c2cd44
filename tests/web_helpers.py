"""Helpers for web tests: the real app (TestClient runs its lifespan) on the test database, people with
passwords, signing in, and form posts that carry the CSRF token the way a browser form or htmx would.

Use with the `db` fixture:

    def test_x(db):
        person = make_person("dee@example.org", "designer")
        with web_client() as client:
            sign_in(client, person.email)
            page = client.get("/programs")
"""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from datetime import datetime

from litestar.testing import TestClient

from models.tables import Person
from server.passwords import hash_password

PASSWORD = "correct horse battery staple"
_OPEN_CLIENTS: list[TestClient] = []  # the web_clients open now, innermost last


def run(awaitable):
    """Await one query or coroutine from a synchronous test (test setup and checks on the database).

    While a `web_client` is open it runs on that app's event loop (the client's portal): on PostgreSQL the
    app's connection pool belongs to that loop, and a coroutine awaited on another loop would take a pool
    connection there and never hand it back cleanly, so the app's shutdown (asyncpg's `Pool.close`, which waits
    for every connection) hung. With no app open there is no pool, and a fresh loop will do."""

    async def go():
        return await awaitable

    if _OPEN_CLIENTS:
        return _OPEN_CLIENTS[-1].blocking_portal.call(go)
    return asyncio.run(go())


def make_person(email: str, role: str = "learner", *, password: str = PASSWORD, name: str | None = None,
                timezone: str = "UTC", **fields) -> Person:
    async def create() -> Person:
        person = Person(email=email.lower(), name=name or email.split("@")[0].title(), role=role,
                        timezone=timezone, password_hash=hash_password(password) if password else "", **fields)
        await person.save()
        return person

    return run(create())


def page_text(response) -> str:
    """A page's HTML with its character references read back ("&#8211;" -> "–"), as a browser shows it: pages
    are written in ASCII (server/templating.PageEnvironment), so a test looking for "1–50" or "→" reads this."""
    import html

    return html.unescape(response.text)


@contextmanager
def web_client(*, now: datetime | None = None):
    """The app on the test database; with `now`, its clock is pinned to that instant."""
    from server.app import create_app
    from server.services.clock import fixed_clock, utc_now

    app = create_app(clock=fixed_clock(now) if now is not None else utc_now)
    with TestClient(app, raise_server_exceptions=False) as client:
        _OPEN_CLIENTS.append(client)
        try:
            yield client
        finally:
            _OPEN_CLIENTS.remove(client)


def csrf_token(client: TestClient) -> str:
    """The CSRF cookie's value (what csrf_token() renders); fetched from the sign-in page when missing."""
    token = client.cookies.get("csrftoken")
    if not token:
        client.get("/signin")
        token = client.cookies.get("csrftoken")
    assert token, "the app set no csrftoken cookie"
    return token


def token_in_page(html: str) -> str | None:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else None


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str | None = None):
    data = {"email": email, "password": password, "_csrf_token": csrf_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/signin", data=data, follow_redirects=False)


def signed_in_client(email: str, password: str = PASSWORD, *, now: datetime | None = None):
    """A context manager: a client already signed in as `email` (the app's clock at `now`, if given)."""

    @contextmanager
    def manager():
        with web_client(now=now) as client:
            response = sign_in(client, email, password)
            assert response.status_code == 303, f"sign-in as {email} failed: {response.status_code}"
            yield client

    return manager()


def post_form(client: TestClient, path: str, data: dict | None = None, *, files=None, htmx: bool = False,
              follow_redirects: bool = False):
    """POST like a browser form (token in the `_csrf_token` field) or like htmx (token in the header)."""
    data = dict(data or {})
    headers = {}
    if htmx:
        headers = {"HX-Request": "true", "x-csrftoken": csrf_token(client)}
    else:
        data["_csrf_token"] = csrf_token(client)
    return client.post(path, data=data, files=files, headers=headers, follow_redirects=follow_redirects)


def session_cookie(client: TestClient) -> str | None:
    return client.cookies.get("cadence_session")
