"""A feed's 304 without building it: every write to a table a feed reads bumps one counter (a trigger per
table, so no writer can forget it), and a feed token remembers the counter, base URL and code its stored ETag
was built from, and until when that ETag holds (a cancelled session leaves feeds 30 days after it was
cancelled, with no write to mark it)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-01T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "content generation counter, bumped by triggers; feed tokens remember the version of their ETag"

# Every table whose rows a calendar feed shows (server/services/feeds.collect and render).
FEED_TABLES = ("person", "membership", "cohort", "program", "unit", "section", "live_session", "async_module",
               "session_unit", "session_prework", "module_completion")
BUMP = ("INSERT INTO content_generation (id, value) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET value = content_generation.value + 1")


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def create_counter():
        from piccolo.engine.sqlite import SQLiteEngine

        sqlite = isinstance(RawTable._meta.db, SQLiteEngine)
        await RawTable.raw("CREATE TABLE IF NOT EXISTS content_generation (id INTEGER PRIMARY KEY, "
                           "value BIGINT NOT NULL)")
        await RawTable.raw("INSERT INTO content_generation (id, value) VALUES (1, 1) ON CONFLICT (id) DO NOTHING")
        if not sqlite:
            await RawTable.raw(f"CREATE OR REPLACE FUNCTION bump_content_generation() RETURNS trigger AS $$ "
                               f"BEGIN {BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql")
        for table in FEED_TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                name = f"{table}_{event.lower()}_bumps_content"
                if sqlite:
                    await RawTable.raw(f'CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON "{table}" '
                                       f"BEGIN {BUMP}; END")
                else:
                    await RawTable.raw(f'DROP TRIGGER IF EXISTS {name} ON "{table}"')
                    await RawTable.raw(f'CREATE TRIGGER {name} AFTER {event} ON "{table}" '
                                       f"FOR EACH STATEMENT EXECUTE FUNCTION bump_content_generation()")

    manager.add_raw(create_counter)

    manager.add_column(
        table_class_name="FeedToken", tablename="feed_token", column_name="content_version",
        db_column_name="content_version", column_class_name="Varchar", column_class=Varchar,
        params={"length": 100, "default": "", "null": False, "primary_key": False, "unique": False,
                "index": False, "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
                "secret": False},
        schema=None,
    )
    manager.add_column(
        table_class_name="FeedToken", tablename="feed_token", column_name="content_valid_until",
        db_column_name="content_valid_until", column_class_name="Timestamptz", column_class=Timestamptz,
        params={"default": None, "null": True, "primary_key": False, "unique": False, "index": False,
                "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False},
        schema=None,
    )
    return manager
