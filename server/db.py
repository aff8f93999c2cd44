"""The one way services open a transaction that reads then writes."""

from __future__ import annotations

from piccolo.engine import engine_finder
from piccolo.engine.sqlite import TransactionType

from models.engine import is_sqlite


def write_transaction():
    """A transaction that reads then writes. SQLite needs IMMEDIATE for that under concurrency (a transaction
    opened inside another joins it)."""
    engine = engine_finder()
    return engine.transaction(TransactionType.immediate) if is_sqlite(engine) else engine.transaction()
