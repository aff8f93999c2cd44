"""The one way services open a transaction that reads then writes, run a hand-written read (and page a long
list in SQL), and hold the database's connection pool for the length of a process's work (a web app, one job)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.sqlite import TransactionType

from models.engine import is_sqlite
from models.tables import Person

# Row ids are PostgreSQL `serial` (32-bit); SQLite's are 64-bit. One bound for both, so a path or form id
# outside it is "no such record" on either database instead of a driver overflow.
LARGEST_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    return 1 <= value <= LARGEST_ID


@asynccontextmanager
async def connection_pool(engine=None, **pool_options: Any) -> AsyncIterator[None]:
    """On PostgreSQL, a connection pool while the block runs: without one, piccolo opens a new connection for
    every query (a TCP and SCRAM handshake each, ~3 ms). Nothing to do on SQLite. One event loop only: a job
    that calls asyncio.run opens its own. `engine`: the tables' engine unless a test passes another (and
    asyncpg's pool options, `max_size=1` say)."""
    from piccolo.engine.postgres import PostgresEngine

    engine = engine or Person._meta.db
    pooled = isinstance(engine, PostgresEngine)
    if pooled:
        await engine.start_connection_pool(reset=_keep_session, **pool_options)
    try:
        yield
    finally:
        if pooled:
            await engine.close_connection_pool()


async def _keep_session(connection) -> None:
    """What the pool runs when a connection comes back, after asyncpg has rolled back any open transaction.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    release: a second round trip for every query outside a transaction, as long as the query itself. Cadence
    sets no session state on these connections (no SET, session advisory locks, LISTEN or cursors held past a
    transaction; Huey's queue has its own connections), so there is nothing to undo. Anything that starts to
    must use the transaction-scoped forms (SET LOCAL, pg_advisory_xact_lock), which end with the transaction."""


def write_transaction():
    """A transaction that reads then writes. SQLite needs IMMEDIATE for that under concurrency (a transaction
    opened inside another joins it)."""
    engine = engine_finder()
    return engine.transaction(TransactionType.immediate) if is_sqlite(engine) else engine.transaction()


async def fetch(sql: str, *args: Any) -> list[dict]:
    """The rows of one hand-written SELECT, `{}` marking each argument (compiled for SQLite or PostgreSQL).

    For the reads on every page: building a Piccolo query costs 0.3-0.7 ms of Python per query (its column
    copies and joins), several times what SQLite takes to answer it. Columns come back converted as Piccolo
    converts them (timestamps aware, booleans as bool) when they are selected as plain columns. Inside a
    transaction the query runs on the transaction's connection, like any Piccolo query.
    """
    engine = Person._meta.db  # the engine every table uses (engine_finder() imports piccolo_conf on each call)
    rows = await engine.run_querystring(_Read(sql, args))
    return rows if is_sqlite(engine) else engine.transform_response_to_dicts(rows)


class _Read:
    """A hand-written read as Piccolo's engines take a query: its text compiled once per engine type."""

    __slots__ = ("sql", "args")
    query_type = "select"
    table = None

    def __init__(self, sql: str, args: tuple) -> None:
        self.sql, self.args = sql, args

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list[Any]]:
        return _compiled(self.sql, engine_type), list(self.args)

    def __str__(self) -> str:  # what the engine logs when asked to log queries
        return self.sql


@lru_cache(maxsize=1024)
def _compiled(sql: str, engine_type: str) -> str:
    parts = sql.split("{}")
    if engine_type == "sqlite":
        return "?".join(parts)
    return parts[0] + "".join(f"${index}{part}" for index, part in enumerate(parts[1:], start=1))


async def fetch_one(sql: str, *args: Any) -> dict | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None


def contains_pattern(text: str) -> str:
    """A LIKE pattern for "contains `text`" in any case (compare it with LOWER(column) ... ESCAPE '\\'), its
    wildcards taken literally. LOWER, not LIKE's own case rule: PostgreSQL's LIKE is case-sensitive."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def name_or_email_contains(query: str, table: str = "") -> tuple[str, list[str]]:
    """The condition "the person's name or email contains `query`, in any case" and its two arguments; `table`:
    the person table's alias in the query ("p"), if any. An empty query matches everyone."""
    if not query:
        return "1 = 1", []
    name, email = (f"{table}.name", f"{table}.email") if table else ("name", "email")
    pattern = contains_pattern(query)
    return f"(LOWER({name}) LIKE {{}} ESCAPE '\\' OR LOWER({email}) LIKE {{}} ESCAPE '\\')", [pattern, pattern]


def counts_beside(*names: str) -> str:
    """Select-list items that repeat on every row of a page the counts of its `WITH numbers AS (...)`, each as a
    scalar subquery: computed once. (Joined to the rows instead, PostgreSQL without statistics on a new table
    ran the aggregate again for every row, 200 times on a 200-learner roster; a window count over the page's
    joined rows cost more.)"""
    return ", ".join(f"(SELECT {name} FROM numbers) AS {name}" for name in names)


async def page_with_counts(read: Callable[[int | None], Awaitable[list[dict]]], counts: str, count_args: Sequence[Any],
                           page: int | None, per_page: int) -> tuple[list[dict], dict, int]:
    """(rows, counts, page number) of a list paged in SQL. `read(number)` reads page `number` (every row for
    None) with the counts beside each row (`counts_beside`); `counts` is that aggregate alone, read only when
    the page comes back empty. Its `matching` column sets the number of pages; past the last page, the last."""
    number = max(1, page) if page is not None else None
    rows = await read(number)
    numbers = rows[0] if rows else await fetch_one(counts, *count_args)  # none: nobody matches, or past the end
    last = max(1, -(-int(numbers["matching"] or 0) // per_page))
    if number is not None and number > last:
        number = last
        rows = await read(number) if numbers["matching"] else []
    return rows, numbers, number or 1


def in_list(values: Sequence[Any]) -> str:
    """The `{}` marks of an IN list (`NULL` when empty, which matches nothing)."""
    return ", ".join("{}" for _ in values) if values else "NULL"
