"""What-if variants: a planner run records the parameters it changes (sections, weekly async cap, live-session
length, another facilitator) and the comparison it belongs to, so variants of the same cohorts are planned as
ordinary runs and compared side by side.

Written by hand with raw SQL (ADD COLUMN works alike on SQLite and PostgreSQL; Piccolo's auto-migrations that
alter columns fail on SQLite). Existing runs are plain runs: no variant, no comparison.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "planner runs: what-if variant parameters and their comparison"

COLUMNS = (
    ("variant", "JSON NOT NULL DEFAULT '{{}}'"),  # {{}}: raw() reads {} as a parameter
    ("comparison", "INTEGER DEFAULT null"),
)


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def add_columns():
        for name, declaration in COLUMNS:
            await RawTable.raw(f'ALTER TABLE "planner_run" ADD COLUMN "{name}" {declaration}')
        await RawTable.raw('CREATE INDEX IF NOT EXISTS "planner_run_comparison" ON "planner_run" ("comparison")')

    async def drop_columns():
        await RawTable.raw('DROP INDEX IF EXISTS "planner_run_comparison"')
        for name, _declaration in reversed(COLUMNS):
            await RawTable.raw(f'ALTER TABLE "planner_run" DROP COLUMN "{name}"')

    manager.add_raw(add_columns)
    manager.add_raw_backwards(drop_columns)
    return manager
