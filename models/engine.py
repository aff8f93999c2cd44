"""Build a Piccolo engine from CADENCE_DATABASE_URL (read here, so the database layer needs no web settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from piccolo.engine.postgres import PostgresEngine
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
        return SQLiteEngine(path=path, timeout=30)
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("CADENCE_DATABASE_URL: a PostgreSQL URL needs a host and a database name")
        return PostgresEngine(config={"dsn": url.replace("postgres://", "postgresql://", 1)})
    raise ValueError("CADENCE_DATABASE_URL: expected sqlite:///PATH or postgresql://USER:PW@HOST:PORT/DB")


def is_sqlite(engine) -> bool:
    return isinstance(engine, SQLiteEngine)
