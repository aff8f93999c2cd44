"""Bring the database to the current schema, and the two resets the tests use.

The engine comes from piccolo_conf (CADENCE_DATABASE_URL). On SQLite the engine already opens every
connection with a 30 s busy timeout (models/engine.py); `upgrade` also switches the file to WAL, which
lets readers carry on while one writer commits (WAL is a property of the file, so once is enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
import warnings
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine import engine_finder
from piccolo.table import Table, sort_table_classes

from models import tables
from models.engine import is_sqlite

APP_NAME = "models"


class MigrationFailed(Exception):
    cadence_user_error = True


def all_tables() -> list[type[Table]]:
    """Cadence's tables, parents before children."""
    found = [
        value
        for value in vars(tables).values()
        if isinstance(value, type) and issubclass(value, Table) and value.__module__ == tables.__name__
    ]
    return sort_table_classes(found)


async def upgrade() -> None:
    """Run every pending migration (creates the schema on an empty database). Running it again does nothing.

    A malformed CADENCE_DATABASE_URL, an unreachable server, a wrong password or a missing database raise
    MigrationFailed with one line naming the database (never its password)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # piccolo warns when it cannot reach the server; we say so below
            engine = engine_finder()  # imports piccolo_conf, which builds the engine from CADENCE_DATABASE_URL
    except ValueError as error:
        raise MigrationFailed(str(error)) from None
    except OSError as error:  # the SQLite file's folder cannot be created
        raise MigrationFailed(f"cannot use the database {database_name()}: {error}") from None
    try:
        if is_sqlite(engine):
            await Migration.raw("PRAGMA journal_mode=WAL")
        chatter = io.StringIO()  # piccolo prints progress with emoji; the CLI prints its own one line
        with contextlib.redirect_stdout(chatter), warnings.catch_warnings(), tables.piccolo_bookkeeping():
            warnings.simplefilter("ignore")
            result = await run_forwards(app_name=APP_NAME, migration_id="all")
    except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise MigrationFailed(f"cannot use the database {database_name()}: {error}") from None
    if not result.success:
        raise MigrationFailed(f"database upgrade failed: {result.message}")


def database_name() -> str:
    """CADENCE_DATABASE_URL without its password, for messages."""
    url = os.environ.get("CADENCE_DATABASE_URL") or "sqlite:///cadence.db"
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


async def reset_for_tests() -> None:
    """Drop everything in the (test) database, including Piccolo's migration table, then upgrade."""
    engine = engine_finder()
    if is_sqlite(engine):
        # Children first: each connection enforces foreign keys, so a parent cannot go before its rows' children.
        for table in reversed(all_tables()):
            await Migration.raw(f'DROP TABLE IF EXISTS "{table._meta.tablename}"')
        await Migration.raw(f'DROP TABLE IF EXISTS "{Migration._meta.tablename}"')
    else:
        await Migration.raw("DROP SCHEMA public CASCADE")
        await Migration.raw("CREATE SCHEMA public")
    await upgrade()


async def delete_all_rows() -> None:
    """Empty every Cadence table and keep the schema (and the migration history)."""
    engine = engine_finder()
    ordered = all_tables()
    if is_sqlite(engine):
        async with engine.transaction():
            for table in reversed(ordered):
                await table.delete(force=True)
    else:
        names = ", ".join(f'"{table._meta.tablename}"' for table in ordered)
        for attempt in range(5):
            try:
                await Migration.raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            except asyncpg.exceptions.DeadlockDetectedError:
                # TRUNCATE locks the tables one by one; a worker's write that holds one of them and checks a
                # foreign key into another already locked here deadlocks with it, and PostgreSQL may pick
                # this side to abort. The worker's transaction then ends: try again.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
