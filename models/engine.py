"""Build a Piccolo engine from CADENCE_DATABASE_URL (read here, so the database layer needs no web settings)."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine

DEFAULT_DATABASE_URL = "sqlite:///cadence.db"


def database_url(env: Mapping[str, str] | None = None) -> str:
    """CADENCE_DATABASE_URL, or the demo's SQLite file in the working directory."""
    return (os.environ if env is None else env).get("CADENCE_DATABASE_URL") or DEFAULT_DATABASE_URL


def engine_from_url(url: str):
    if url.startswith("sqlite://"):
        # sqlite:///cadence.db -> cadence.db (relative); sqlite:////abs/path.db -> /abs/path.db
        if not url.startswith("sqlite:///"):
            raise ValueError("CADENCE_DATABASE_URL: expected sqlite:///PATH (three slashes)")
        path = url.removeprefix("sqlite:///") or "cadence.db"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return ReadConnectionSQLiteEngine(path=path, timeout=30)
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("CADENCE_DATABASE_URL: a PostgreSQL URL needs a host and a database name")
        return RequestConnectionPostgresEngine(config={"dsn": url.replace("postgres://", "postgresql://", 1)})
    raise ValueError("CADENCE_DATABASE_URL: expected sqlite:///PATH or postgresql://USER:PW@HOST:PORT/DB")


def is_sqlite(engine) -> bool:
    return isinstance(engine, SQLiteEngine)


class ReadConnectionSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with one long-lived connection per thread for reads outside a transaction.

    Piccolo opens a new aiosqlite connection (a new thread, a new file handle, the schema parsed again) for every
    query outside a transaction; on a page of a few small queries that was most of the time. Here a SELECT
    outside a transaction runs at once, on the calling thread, on a connection that stays open. A page's reads
    are indexed lookups of a few rows: measured on the demo, one takes about 25 us in SQLite, while handing it to
    another thread and back took about 170 us, and the event loop had nothing else to do meanwhile (the pages are
    CPU-bound under the GIL). In WAL mode a reader never waits for a writer, so the loop is not held by a write.
    The connection is in autocommit mode like Piccolo's, so every SELECT is its own read transaction and sees
    everything committed before it, and it is `query_only`, so a write can never slip through it. Writes, DDL
    and transactions keep Piccolo's path: a fresh connection each, in aiosqlite's thread, which waits on the busy
    timeout without holding up the loop.

    The connection is per thread and per process (a forked worker opens its own) and closes with its thread.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != _process.pid:
            connection = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
            connection.execute("PRAGMA foreign_keys = 1")
            connection.execute("PRAGMA query_only = 1")
            local.connection, local.pid = connection, _process.pid
        return connection

    def read(self, query: str, args: list[Any]) -> list[dict]:
        """Run one SELECT on this thread's read connection (also the fast path of `server.db.fetch`); the rows as
        dicts, like Piccolo's. Its `dict_factory` reads `cursor.description` (a fresh tuple of 7-tuples) for every
        row; here the names are read once per query."""
        cursor = self._connection().execute(query, args)
        try:
            rows = cursor.fetchall()
            if not rows:
                return []
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=False)) for row in rows]  # as many values as names: no check
        finally:
            cursor.close()

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table=None):
        if query_type != "insert" and _is_read(query):
            return self.read(query, list(args or []))
        return await super()._run_in_new_connection(query, args, query_type, table)


@lru_cache(maxsize=65536)  # the same instants (session starts, due dates) come back on every page
def _timestamptz_out(value: bytes | str) -> datetime:
    """Piccolo's TIMESTAMPTZ converter: the stored ISO text as an aware UTC datetime (immutable, so a cached one
    can be shared), ~0.06 us a value instead of ~1 us."""
    return datetime.fromisoformat(value.decode() if type(value) is bytes else value).replace(tzinfo=UTC)


def _boolean_out(value: bytes | str) -> bool:
    return value == b"1" or value == "1"


# sqlite3's converters are global, by declared column type; Piccolo registered its own when imported (above).
# Ours give the same answers (tests/test_engine.py compares them) at a tenth of the cost. An INTEGER column needs
# none: Piccolo's (`int(Decimal(text))`, ~1.2 us a value, and a page reads hundreds) made sqlite3 hand it each
# integer as bytes to convert back, where SQLite's INTEGER affinity already stores every integral value it is
# given (1, "7", 1.0, "1e3") as an integer that sqlite3 reads as an int.
for _name, _converter in (("TIMESTAMPTZ", _timestamptz_out), ("BOOLEAN", _boolean_out)):
    sqlite3.register_converter(_name, _converter)
sqlite3.converters.pop("INTEGER", None)


_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)  # a page's queries are the same few strings, its values are parameters
def _is_read(query: str) -> bool:
    """A single SELECT statement (Piccolo's select, objects, count, exists and our raw reads), or one that
    starts WITH and names no write (a page's counts beside its rows: it went to a new connection per query)."""
    head = query.lstrip()[:7].upper()
    if ";" in query.rstrip().rstrip(";"):
        return False
    return head.startswith("SELECT") or (head.startswith("WITH") and _WRITES.search(query) is None)


class _Process:
    """This process's id, kept current across fork without a getpid() system call per query."""

    pid = os.getpid()


_process = _Process()
os.register_at_fork(after_in_child=lambda: setattr(_process, "pid", os.getpid()))


class _HeldConnection:
    """The pool connection one request holds (taken at its first query), and who may use it now."""

    __slots__ = ("connection", "lock")

    def __init__(self) -> None:
        self.connection = None
        self.lock = asyncio.Lock()  # asyncpg runs one query at a time on a connection


_HELD: ContextVar[_HeldConnection | None] = ContextVar("cadence_request_connection", default=None)


class RequestConnectionPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, where the queries of one request share one pool connection.

    Piccolo takes a connection from asyncpg's pool for every query outside a transaction and gives it back
    after: measured here, 125 us of client CPU per query against 83 us on a connection already held, and a
    page makes several. Inside `request_connection()` (a middleware opens it around each request) the first
    query takes a connection and keeps it until the request ends, as Django or Rails hold one per request.
    A request never holds two: a transaction gives the held connection back before taking its own, so requests
    cannot all hold one and wait for a second. Outside a request (the worker, the CLI) nothing changes."""

    async def _run_in_pool(self, query: str, args=None):
        held = _HELD.get()
        if held is None or not self.pool:
            return await super()._run_in_pool(query, args)
        async with held.lock:
            if held.connection is None:
                held.connection = await self.pool.acquire()
            return await held.connection.fetch(query, *(args or ()))

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _Transaction(engine=self, allow_nested=allow_nested)

    async def hand_back(self) -> None:
        """Return the request's held connection to the pool, if it holds one."""
        held = _HELD.get()
        if held is None or held.connection is None:
            return
        async with held.lock:
            connection, held.connection = held.connection, None
            if connection is not None:
                await self.pool.release(connection)


class _Transaction(PostgresTransaction):
    __slots__ = ()

    async def get_connection(self):
        await self.engine.hand_back()  # one connection per request at a time (see the engine)
        return await super().get_connection()


@asynccontextmanager
async def request_connection(engine) -> AsyncIterator[None]:
    """While the block runs, PostgreSQL queries outside a transaction share one pool connection (taken at
    the first; given back when the block ends). Nothing on SQLite, whose reads have their own connection."""
    if not isinstance(engine, RequestConnectionPostgresEngine):
        yield
        return
    token = _HELD.set(_HeldConnection())
    try:
        yield
    finally:
        try:
            await engine.hand_back()
        finally:
            _HELD.reset(token)
