"""Web sessions name their person in a column of their own, so a signed-in request reads its session and its
person in one query (a JOIN) instead of two: one round trip less per page on PostgreSQL.

Written by hand with raw SQL (ADD COLUMN works alike on SQLite and PostgreSQL). Sessions written before this
migration have no person in the column; they keep working through the second query until they end.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "web sessions: the signed-in person as a column"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def add_column():
        await RawTable.raw('ALTER TABLE "web_session" ADD COLUMN "person" INTEGER DEFAULT null')

    async def drop_column():
        await RawTable.raw('ALTER TABLE "web_session" DROP COLUMN "person"')

    manager.add_raw(add_column)
    manager.add_raw_backwards(drop_column)
    return manager
