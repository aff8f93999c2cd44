"""Email: notifications (the record of every message, with its unique key), preferences per person and kind,
unsubscribe tokens, and three program columns (purpose, reminder hours, default modes).

The new tables are created from snapshot classes below (Piccolo writes the DDL for SQLite and PostgreSQL
alike); the program's new columns by raw ADD COLUMN (as 0005 does); uniqueness across columns by raw indexes
(Piccolo's Unique fails on SQLite). No calendar feed reads these tables, so they get no content triggers; the
program's columns ride on the program table's existing ones.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ID = "2026-12-02T07:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "email: notifications, preferences, unsubscribe tokens; program purpose and reminder settings"

PROGRAM_COLUMNS = (
    ("purpose", "TEXT NOT NULL DEFAULT ''"),
    ("reminder_hours", "VARCHAR(40) NOT NULL DEFAULT '24,1'"),
    ("notification_defaults", "JSON NOT NULL DEFAULT '{{}}'"),  # {{}}: raw() reads {} as a parameter
)
INDEXES = (
    ("notification_preference_person_kind_unique", "notification_preference", ("person", "kind")),
    ("unsubscribe_token_person_kind_unique", "unsubscribe_token", ("person", "kind")),
)


class RawTable(Table):
    pass


class Person(Table, tablename="person"):
    pass


class Cohort(Table, tablename="cohort"):
    pass


class LiveSession(Table, tablename="live_session"):
    pass


class AsyncModule(Table, tablename="async_module"):
    pass


class Notification(Table, tablename="notification"):
    key = Varchar(length=300, unique=True)
    kind = Varchar(length=40, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, null=True)
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, null=True, index=True)
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade, null=True)
    occasion = Varchar(length=100, default="")
    method = Varchar(length=10, default="")
    sequence = Integer(default=0)
    state = Varchar(length=20, default="pending", index=True)
    due_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    reason = Text(default="")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=200, default="")
    claimed_at = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    digest_id = Integer(null=True, default=None)
    recipient = Varchar(length=254, default="")
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(default="")
    calendar = Text(default="")
    message_id = Varchar(length=255, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class NotificationPreference(Table, tablename="notification_preference"):
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    mode = Varchar(length=20, default="immediate")
    updated_at = Timestamptz(default=TimestamptzNow())


class UnsubscribeToken(Table, tablename="unsubscribe_token"):
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    nonce = Varchar(length=64)
    token_hash = Varchar(length=64, unique=True, index=True)
    created_at = Timestamptz(default=TimestamptzNow())


NEW_TABLES = (Notification, NotificationPreference, UnsubscribeToken)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def create():
        for name, declaration in PROGRAM_COLUMNS:
            await RawTable.raw(f'ALTER TABLE "program" ADD COLUMN "{name}" {declaration}')
        for table in NEW_TABLES:
            await table.create_table(if_not_exists=True)
        for name, table, columns in INDEXES:
            cols = ", ".join(f'"{c}"' for c in columns)
            await RawTable.raw(f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}" ON "{table}" ({cols})')
        await RawTable.raw('CREATE INDEX IF NOT EXISTS "notification_due" ON "notification" ("state", "due_at")')

    async def drop():
        for table in reversed(NEW_TABLES):
            await RawTable.raw(f'DROP TABLE IF EXISTS "{table._meta.tablename}"')
        for name, _declaration in reversed(PROGRAM_COLUMNS):
            await RawTable.raw(f'ALTER TABLE "program" DROP COLUMN "{name}"')

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
