"""Server-side HTTP sessions kept in the `WebSession` table, so every worker process sees the same sessions.

Also the session backend that issues a fresh session id at sign-in (against session fixation): Litestar's
server-side backend keeps whatever id the client's cookie carries, so sign-in asks for a new one here.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty

from models.tables import WebSession
from server.db import fetch_one
from server.services.clock import Clock, utc_now

NO_EXPIRY = timedelta(days=365)  # rows need an expiry; "never" means a year here
PURGE_EVERY = 50  # writes between two sweeps of expired rows (per process)
_NEW_ID = "cadence.new_session_id"
_LOADED = "cadence.session_as_loaded"
SESSION_PERSON = "cadence.session_person"  # scope state: (the person id the session row names, their active row)
SESSION_PERSON_KEY = "person_id"  # where server/auth.py keeps the signed-in person in a session


def _delta(value: int | timedelta | None) -> timedelta:
    if value is None:
        return NO_EXPIRY
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


class DatabaseStore(Store):
    """A Litestar `Store` on the WebSession table. Values are bytes, kept base64-encoded in a text column;
    expiry is read on the app's clock."""

    def __init__(self, namespace: str = "", *, clock: Clock = utc_now) -> None:
        self.namespace = namespace
        self.clock = clock
        self._writes = 0

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}" if self.namespace else key

    def with_namespace(self, namespace: str) -> DatabaseStore:
        return DatabaseStore(f"{self.namespace}_{namespace}" if self.namespace else namespace, clock=self.clock)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        raw = value.encode() if isinstance(value, str) else value
        data = base64.b64encode(raw).decode("ascii")
        expires_at = self.clock() + _delta(expires_in)
        # One statement, so two workers writing the same session never race between a read and a write.
        await WebSession.insert(WebSession(key=self._key(key), data=data, expires_at=expires_at,
                                           person=person_named_in(raw))).on_conflict(
            target=WebSession.key, action="DO UPDATE",
            values=[WebSession.data, WebSession.expires_at, WebSession.person]
        )
        self._writes += 1
        if self._writes % PURGE_EVERY == 1:
            await self.purge_expired()

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await fetch_one("SELECT data, expires_at FROM web_session WHERE key = {}", self._key(key))
        if row is None:
            return None
        if row["expires_at"] <= self.clock():
            await self.delete(key)
            return None
        if renew_for is not None:
            await WebSession.update({WebSession.expires_at: self.clock() + _delta(renew_for)}).where(
                WebSession.key == self._key(key)
            )
        return base64.b64decode(row["data"])

    async def get_with_person(self, key: str) -> tuple[bytes | None, int | None, dict | None]:
        """(data, the person the row names, that person's row if active) in one query: a signed-in request's
        session and person together. Expiry as in `get`; no renewal (ask `get` for that)."""
        row = await fetch_one(_SESSION_AND_PERSON, True, self._key(key))
        if row is None:
            return None, None, None
        data, expires_at, person = row.pop("session_data"), row.pop("session_expires_at"), row.pop("session_person")
        if expires_at <= self.clock():
            await self.delete(key)
            return None, None, None
        return base64.b64decode(data), person, row if row["id"] is not None else None

    async def delete(self, key: str) -> None:
        await WebSession.delete().where(WebSession.key == self._key(key))

    async def delete_all(self) -> None:
        if self.namespace:
            await WebSession.delete().where(WebSession.key.like(f"{self.namespace}:%"))
        else:
            await WebSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await WebSession.exists().where(
            (WebSession.key == self._key(key)) & (WebSession.expires_at > self.clock())
        )

    async def expires_in(self, key: str) -> int | None:
        row = await WebSession.select(WebSession.expires_at).where(WebSession.key == self._key(key)).first()
        if row is None:
            return None
        left = int((row["expires_at"] - self.clock()).total_seconds())
        return left if left > 0 else None

    async def purge_expired(self) -> None:
        await WebSession.delete().where(WebSession.expires_at <= self.clock())


# the session's columns are renamed so no column of person can shadow them
_SESSION_AND_PERSON = (
    "SELECT w.data AS session_data, w.expires_at AS session_expires_at, w.person AS session_person, p.*"
    " FROM web_session w LEFT JOIN person p ON p.id = w.person AND p.active = {} WHERE w.key = {}")


def person_named_in(raw: bytes) -> int | None:
    """The person id a session's data holds (server/auth.py keeps it under "person_id"), or None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    person = data.get(SESSION_PERSON_KEY) if isinstance(data, dict) else None
    return person if isinstance(person, int) and not isinstance(person, bool) else None


class RotatingSessionBackend(ServerSideSessionBackend):
    """Uses the id that `renew_session_id` chose for this request instead of the one in the cookie, and
    writes a session only when it changed (Litestar writes it on every response: a database write per page).
    Sessions therefore last `max_age` from sign-in, however busy the person is."""

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        state = connection.scope.setdefault("state", {})
        store = self.config.get_store_from_app(connection.scope["app"])
        session_id = connection.cookies.get(self.config.key)
        if session_id and isinstance(store, DatabaseStore) and not self.config.renew_on_access:
            # the session and its person in one query; LoadUserMiddleware takes the person from here
            raw, person_id, person = await store.get_with_person(session_id)
            state[SESSION_PERSON] = (person_id, person)
            data = self.deserialize_data(raw) if raw is not None else {}
        else:
            data = await super().load_from_connection(connection)
        state[_LOADED] = dict(data)
        return data

    def get_session_id(self, connection: ASGIConnection) -> str:
        fresh = connection.scope.get("state", {}).get(_NEW_ID)
        return fresh or super().get_session_id(connection)

    async def store_in_message(self, scope_session: Any, message: Any, connection: ASGIConnection) -> None:
        # Litestar would store an empty session (one row and a cookie per anonymous request); only write
        # sessions with something in them, and clear a cookie that points at one that is now empty.
        if scope_session is Empty or not scope_session:
            if connection.cookies.get(self.config.key) in (None, "", "null"):
                return
            scope_session = Empty
        elif (scope_session == connection.scope.get("state", {}).get(_LOADED)
              and not connection.scope.get("state", {}).get(_NEW_ID)):
            return  # unchanged: the row and the cookie stay as they are
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def renew_session_id(connection: ASGIConnection[Any, Any, Any, Any], config: ServerSideSessionConfig) -> None:
    """Drop the stored session under the client's current id; the response will carry a new random id."""
    old = connection.cookies.get(config.key)
    if old:
        await config.get_store_from_app(connection.scope["app"]).delete(old)
    connection.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(config.session_id_bytes)
