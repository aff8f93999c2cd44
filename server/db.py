"""The one way services open a transaction that reads then writes."""

from __future__ import annotations

from piccolo.engine import engine_finder
from piccolo.engine.sqlite import TransactionType

from models.engine import is_sqlite

# Row ids are PostgreSQL `serial` (32-bit); SQLite's are 64-bit. One bound for both, so a path or form id
# outside it is "no such record" on either database instead of a driver overflow.
LARGEST_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    return 1 <= value <= LARGEST_ID


def write_transaction():
    """A transaction that reads then writes. SQLite needs IMMEDIATE for that under concurrency (a transaction
    opened inside another joins it)."""
    engine = engine_finder()
    return engine.transaction(TransactionType.immediate) if is_sqlite(engine) else engine.transaction()
