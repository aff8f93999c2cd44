"""An index on person (name, id): the people list is in that order, paged, so a page reads its 50 rows in
index order instead of sorting every account first (measured: 122 -> 96 us with 224 accounts; the sort grows
with the number of accounts, the index walk does not).

Written by hand with raw SQL (the statement is the same on SQLite and PostgreSQL).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-05T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "people in name order: an index on person (name, id)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def create_index():
        await RawTable.raw('CREATE INDEX IF NOT EXISTS "person_name_id" ON "person" ("name", "id")')

    async def drop_index():
        await RawTable.raw('DROP INDEX IF EXISTS "person_name_id"')

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
