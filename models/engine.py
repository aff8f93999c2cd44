"""Build a Piccolo engine from CADENCE_DATABASE_URL (read here, so the database layer needs no web settings)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

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
        return PostgresEngine(config={"dsn": url.replace("postgres://", "postgresql://", 1)})
    raise ValueError("CADENCE_DATABASE_URL: expected sqlite:///PATH or postgresql://USER:PW@HOST:PORT/DB")


def is_sqlite(engine) -> bool:
    return isinstance(engine, SQLiteEngine)


class ReadConnectionSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with one long-lived connection per process for reads outside a transaction.

    Piccolo opens a new aiosqlite connection (a new thread, a new file handle, the schema parsed again) for every
    query outside a transaction; on a page of a few small queries that was most of the time. Here a SELECT
    outside a transaction runs on one connection that stays open, in one thread of its own (the event loop never
    waits on SQLite). The connection is in autocommit mode like Piccolo's, so every SELECT is its own read
    transaction and sees everything committed before it (WAL: readers never wait for writers), and it is
    `query_only`, so a write can never slip through it. Writes, DDL and transactions keep Piccolo's path: a
    fresh connection each, which waits on the busy timeout without holding up the reads.

    The reader is per process (a forked worker opens its own) and the thread is a pool thread, which the
    interpreter stops at exit, so nothing needs closing.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reader_lock = threading.Lock()
        self._reader_pid = 0
        self._reader: ThreadPoolExecutor | None = None
        self._local = threading.local()

    def _executor(self) -> ThreadPoolExecutor:
        with self._reader_lock:
            if self._reader is None or self._reader_pid != os.getpid():
                self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
                self._reader_pid = os.getpid()
            return self._reader

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", 0) != os.getpid():
            connection = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
            connection.row_factory = dict_factory
            connection.execute("PRAGMA foreign_keys = 1")
            connection.execute("PRAGMA query_only = 1")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _read(self, query: str, args: list[Any]) -> list[dict]:
        cursor = self._connection().execute(query, args)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table=None):
        if query_type != "insert" and _is_read(query):
            return await asyncio.get_running_loop().run_in_executor(self._executor(), self._read, query,
                                                                    list(args or []))
        return await super()._run_in_new_connection(query, args, query_type, table)


def _is_read(query: str) -> bool:
    """A single SELECT statement (Piccolo's select, objects, count, exists and our raw reads)."""
    head = query.lstrip()[:7].upper()
    return head.startswith("SELECT") and ";" not in query.rstrip().rstrip(";")
