"""Planner runs on a job queue: a run is queued, claimed by one worker, kept alive by a heartbeat, can be
cancelled, and reports its progress while it runs.

Written by hand with raw SQL (ADD COLUMN works alike on SQLite and PostgreSQL; Piccolo's auto-migrations that
alter columns fail on SQLite). Existing rows keep their status; they are planned "as of" their start.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "planner runs: queued, claimed, heartbeat, cancel, progress"

# (column, declaration) — the declarations Piccolo itself writes for these column types
COLUMNS = (
    ("planned_at", "TIMESTAMPTZ DEFAULT null"),
    ("queued_at", "TIMESTAMPTZ DEFAULT null"),
    ("heartbeat_at", "TIMESTAMPTZ DEFAULT null"),
    ("claimed_by", "VARCHAR(200) NOT NULL DEFAULT ''"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("cancel_requested", "BOOLEAN NOT NULL DEFAULT false"),
    ("elapsed", "REAL DEFAULT null"),
    ("best_coverage", "REAL DEFAULT null"),
    ("gap", "REAL DEFAULT null"),
    ("solutions", "INTEGER NOT NULL DEFAULT 0"),
)


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def add_columns():
        for name, declaration in COLUMNS:
            await RawTable.raw(f'ALTER TABLE "planner_run" ADD COLUMN "{name}" {declaration}')
        await RawTable.raw('UPDATE "planner_run" SET "planned_at" = "started_at", "queued_at" = "started_at"')
        await RawTable.raw('CREATE INDEX IF NOT EXISTS "planner_run_status" ON "planner_run" ("status")')

    async def drop_columns():
        await RawTable.raw('DROP INDEX IF EXISTS "planner_run_status"')
        for name, _declaration in reversed(COLUMNS):
            await RawTable.raw(f'ALTER TABLE "planner_run" DROP COLUMN "{name}"')

    manager.add_raw(add_columns)
    manager.add_raw_backwards(drop_columns)
    return manager
