"""Who is signed in, and what they may reach.

- `LoadUserMiddleware` puts the signed-in `Person` row (or None) in `scope["user"]`, so `request.user` works
  in every handler and template, then applies the route's access rule.
- Access rules: `signed_in`, and `role_guard(*roles)` which builds one. A controller names its rule with
  `opt = access(rule)`. A designer passes every role rule (the issue: "a designer everything"); record-level
  checks (a learner's own records, a facilitator's own cohorts) belong to the handlers that know the records.
- `authenticate(email, password)` checks the password in a worker thread and takes the same argon2 time
  whether or not the email exists.
- `sign_in(request, person)` / `sign_out(request)` manage the session; sign-in issues a fresh session id.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from models.tables import Person
from server.db import fetch_one
from server.session_store import SESSION_PERSON, SESSION_PERSON_KEY, renew_session_id

SESSION_KEY = SESSION_PERSON_KEY
ROLES = tuple(role.value for role in Person.Role)


class LoadUserMiddleware(ASGIMiddleware):
    """Runs after the session middleware: session["person_id"] -> the active Person row, else None; then the
    route's access rule (`opt = access(rule)` on its controller), which raises to refuse.

    The rules run here rather than as Litestar guards: Litestar hands each guard a copy of the route handler,
    made on every request (about 16 us, a tenth of a small page), and ours only need the person."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        person = await _person_from_session(scope.get("session"), scope.get("state", {}).get(SESSION_PERSON))
        scope["user"] = person
        route = scope.get("route_handler")
        rule = route.opt.get(ACCESS) if route is not None else None
        if rule is not None:
            rule(person)
        await next_app(scope, receive, send)


async def _person_from_session(session: Any, loaded: tuple[int | None, dict | None] | None = None) -> Person | None:
    """The active person the session names. `loaded`: (the person id the session's row names, their row if
    active) from the session's own query (server/session_store.py), used when it names the same person; a
    session row without one (written before migration 0012) costs a second read."""
    if not isinstance(session, dict):
        return None
    person_id = session.get(SESSION_KEY)
    if not isinstance(person_id, int):
        return None
    if loaded is not None and loaded[0] == person_id:
        row = loaded[1]
    else:  # one hand-written read (a Piccolo `objects()` query cost more than the page's SQL)
        row = await fetch_one(_ACTIVE_PERSON, person_id, True)
    return person_from_row(row) if row is not None else None


_PERSON_COLUMNS = frozenset(column._meta.name for column in Person._meta.columns)


def person_from_row(row: dict) -> Person:
    """The Person a full row of the table (`SELECT p.*`) describes, as `Person(_exists_in_db=True, **row)` makes it.

    Piccolo's constructor walks every column (a hash, two dict pops, a descriptor per column): about 20 us, on
    every signed-in request. A row that holds exactly the table's columns needs none of that: its values are
    the instance's attributes (Piccolo's column descriptors read and write the instance's __dict__), so they
    are set at once. Anything else takes the constructor. A test compares the two, attribute by attribute."""
    if row.keys() != _PERSON_COLUMNS:
        return Person(_exists_in_db=True, **row)
    person = Person.__new__(Person)
    person.__dict__.update(row, _exists_in_db=True, _was_created=None)
    return person


_ACTIVE_PERSON = "SELECT * FROM person WHERE id = {} AND active = {}"


# --- access rules -----------------------------------------------------------------------------------------

ACCESS = "cadence_access"  # the key of a route's rule in its `opt`
Rule = Callable[[Person | None], None]


def access(rule: Rule) -> dict[str, Rule]:
    """A controller's `opt`: who may reach its routes (`opt = access(designer_only)`)."""
    return {ACCESS: rule}


def _require_person(person: Person | None) -> Person:
    if person is None:
        raise NotAuthorizedException("Please sign in.")
    return person


def signed_in(person: Person | None) -> None:
    """Anyone signed in."""
    _require_person(person)


def role_guard(*roles: str) -> Rule:
    """A rule letting through people whose account role is one of `roles`, and designers."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"role_guard: unknown roles {sorted(unknown)}")
    allowed = frozenset(roles) | {Person.Role.designer.value}

    def rule(person: Person | None) -> None:
        if _require_person(person).role not in allowed:
            raise PermissionDeniedException("This page is not available to your account.")

    rule.__name__ = f"role_guard_{'_'.join(roles)}"
    return rule


designer_only = role_guard(Person.Role.designer.value)


# --- sign-in ----------------------------------------------------------------------------------------------


class AccountDeactivated(Exception):
    """The password is right but the account is deactivated: said only to someone who knows the password."""


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    from server.passwords import hash_password

    return hash_password("not-a-real-password: equalises timing for unknown emails")


async def authenticate(email: str, password: str) -> Person | None:
    """The active person with this email and password, or None. Same hashing cost for unknown emails.
    Raises AccountDeactivated for the right password of a deactivated account (a clear message, and no
    account enumeration: a wrong password is "incorrect" either way)."""
    from server.passwords import hash_password, needs_rehash, verify_password

    email = email.strip().lower()
    person = await Person.objects().where(Person.email == email).first() if email else None
    stored = person.password_hash if person is not None and person.password_hash else None
    if stored is None:
        dummy = await anyio.to_thread.run_sync(_dummy_hash)
        await anyio.to_thread.run_sync(verify_password, dummy, password)
        return None
    ok = await anyio.to_thread.run_sync(verify_password, stored, password)
    if not ok:
        return None
    if not person.active:
        raise AccountDeactivated(person.email)
    if needs_rehash(stored):  # hashing parameters were raised since this hash was made
        fresh = await anyio.to_thread.run_sync(hash_password, password)
        await Person.update({Person.password_hash: fresh}).where(Person.id == person.id)
    return person


async def sign_in(connection: ASGIConnection, person: Person, config: ServerSideSessionConfig) -> None:
    """Start a session for `person` under a new session id (the old id, if any, is dropped)."""
    await renew_session_id(connection, config)
    connection.scope["session"] = {SESSION_KEY: person.id}
    connection.scope["user"] = person


def sign_out(connection: ASGIConnection) -> None:
    connection.clear_session()
    connection.scope["user"] = None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a relative path on this site: no scheme, no host, no '//' or '/\\' tricks."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def signin_url(next_path: str) -> str:
    return f"/signin?next={quote(next_path, safe='/')}"
