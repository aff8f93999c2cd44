"""Multi-column uniqueness, as unique indexes in raw SQL (Piccolo's Unique([...]) fails on SQLite).

Written by hand. Before creating the two indexes that guard learner records, duplicates that an older
database may hold are folded into the latest record (highest id), so the upgrade cannot fail on data.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-22T03:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique indexes that span columns"

# (index name, table, columns)
UNIQUE_INDEXES = (
    ("membership_cohort_person_unique", "membership", ("cohort", "person")),
    ("unit_program_slug_unique", "unit", ("program", "slug")),
    ("unit_requirement_unit_requires_unique", "unit_requirement", ("unit", "requires")),
    ("section_cohort_key_unique", "section", ("cohort", "key")),
    ("session_unit_session_position_unique", "session_unit", ("session", "position")),
    ("session_prework_session_module_unique", "session_prework", ("session", "module")),
    ("module_completion_module_person_unique", "module_completion", ("module", "person")),
    ("attendance_session_person_unique", "attendance", ("session", "person")),
    ("live_session_cohort_key_unique", "live_session", ("cohort", "key")),
    ("async_module_cohort_key_unique", "async_module", ("cohort", "key")),
)

# Learner records where a duplicate can safely be dropped in favour of the latest one.
DEDUPLICATE = (("module_completion", ("module", "person")), ("attendance", ("session", "person")))


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def create_indexes():
        for table, columns in DEDUPLICATE:
            cols = ", ".join(f'"{c}"' for c in columns)
            await RawTable.raw(
                f'DELETE FROM "{table}" WHERE "id" NOT IN (SELECT MAX("id") FROM "{table}" GROUP BY {cols})'
            )
        for name, table, columns in UNIQUE_INDEXES:
            cols = ", ".join(f'"{c}"' for c in columns)
            await RawTable.raw(f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}" ON "{table}" ({cols})')

    async def drop_indexes():
        for name, _table, _columns in UNIQUE_INDEXES:
            await RawTable.raw(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
