"""Helpers for database tests: a comparable picture of every row."""

from __future__ import annotations

from models.migrate import all_tables

VOLATILE = {"id", "created_at", "updated_at"}  # row ids of replaced memberships, and touch times


async def snapshot() -> dict[str, list]:
    """Every row of every table, without volatile columns, sorted: equal snapshots mean nothing changed."""
    tables = {}
    for table in all_tables():
        rows = await table.select()
        keep = [tuple(sorted((k, str(v)) for k, v in row.items() if k not in VOLATILE)) for row in rows]
        tables[table._meta.tablename] = sorted(keep)
    return tables
