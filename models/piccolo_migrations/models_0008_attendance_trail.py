"""Attendance that holds up: per-program check-in and automatic-absence settings, when a member joined, the
append-only attendance/completion trail, and the check-in attempt counter.

Written by hand. Columns are added with raw ADD COLUMN (alike on SQLite and PostgreSQL); the two tables are
created from frozen copies of their definitions below (so later edits of models/tables.py cannot change what
this migration did). Existing marks and completions get one "earlier" event each, so that the current state
agrees with the trail from the first day; existing members count as joined when their cohort was created.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.table import Table

ID = "2026-12-02T07:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "attendance: check-in settings, membership joined_at, attendance_event trail, checkin_throttle"

# (table, column, declaration): the declarations Piccolo itself writes for these column types
COLUMNS = (
    ("program", "checkin_opens_minutes", "INTEGER NOT NULL DEFAULT 10"),
    ("program", "checkin_closes_minutes", "INTEGER NOT NULL DEFAULT 15"),
    ("program", "late_after_minutes", "INTEGER NOT NULL DEFAULT 5"),
    ("program", "present_share_percent", "INTEGER NOT NULL DEFAULT 50"),
    ("program", "absent_after_minutes", "INTEGER NOT NULL DEFAULT 0"),
    ("membership", "joined_at", "TIMESTAMPTZ DEFAULT null"),
)


class Person(Table, tablename="person"):
    id = Serial(primary_key=True)


class LiveSession(Table, tablename="live_session"):
    id = Serial(primary_key=True)


class AsyncModule(Table, tablename="async_module"):
    id = Serial(primary_key=True)


class AttendanceEvent(Table, tablename="attendance_event"):
    kind = Varchar(length=20)
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, null=True, index=True)
    module = ForeignKey(references=AsyncModule, on_delete=OnDelete.cascade, null=True, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    from_state = Varchar(length=20, default="")
    to_state = Varchar(length=20, default="")
    source = Varchar(length=20)
    actor = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    actor_name = Varchar(length=200, default="")
    at = Timestamptz()
    note = Varchar(length=300, default="")


class CheckinThrottle(Table, tablename="checkin_throttle"):
    session = ForeignKey(references=LiveSession, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade)
    bucket = Integer()
    attempts = Integer(default=0)


class RawTable(Table):
    pass


EARLIER_ATTENDANCE = """
INSERT INTO attendance_event (kind, session, module, person, from_state, to_state, source, actor, actor_name,
                              at, note)
SELECT 'attendance', a.session, NULL, a.person, '', a.status, 'earlier', a.marked_by, COALESCE(p.name, ''),
       a.marked_at, 'recorded before the trail existed'
FROM attendance a LEFT JOIN person p ON p.id = a.marked_by ORDER BY a.id
"""
EARLIER_COMPLETIONS = """
INSERT INTO attendance_event (kind, session, module, person, from_state, to_state, source, actor, actor_name,
                              at, note)
SELECT 'completion', NULL, c.module, c.person, '', 'done', 'earlier', c.person, COALESCE(p.name, ''),
       c.completed_at, 'recorded before the trail existed'
FROM module_completion c LEFT JOIN person p ON p.id = c.person ORDER BY c.id
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    async def add():
        for table, name, declaration in COLUMNS:
            await RawTable.raw(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {declaration}')
        await RawTable.raw('UPDATE "membership" SET "joined_at" = (SELECT "created_at" FROM "cohort" '
                           'WHERE "cohort"."id" = "membership"."cohort")')
        await AttendanceEvent.create_table(if_not_exists=True)
        await CheckinThrottle.create_table(if_not_exists=True)
        await RawTable.raw('CREATE UNIQUE INDEX IF NOT EXISTS "checkin_throttle_session_person_bucket_unique" '
                           'ON "checkin_throttle" ("session", "person", "bucket")')
        await RawTable.raw(EARLIER_ATTENDANCE)
        await RawTable.raw(EARLIER_COMPLETIONS)

    async def drop():
        await RawTable.raw('DROP TABLE IF EXISTS "checkin_throttle"')
        await RawTable.raw('DROP TABLE IF EXISTS "attendance_event"')
        for table, name, _declaration in reversed(COLUMNS):
            await RawTable.raw(f'ALTER TABLE "{table}" DROP COLUMN "{name}"')

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
