"""The cohort lifecycle: members who leave keep their row (left_at, left_by, left_reason), a learner moved to
another section remembers the section they left (moved_from, moved_at), a deactivated person records when
(deactivated_at), and every roster or people change is written to roster_change.

Membership and person already bump the feed content generation (models_0006); roster_change is not read by a
feed, so it has no trigger."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-02T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "cohort lifecycle: members leave and move, people are deactivated, roster changes are audited"


class Person(Table, tablename="person", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


class Cohort(Table, tablename="cohort", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


class Section(Table, tablename="section", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


def _plain(**extra) -> dict:
    return {"null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False, **extra}


def _fk(references: type[Table], *, index: bool = False) -> dict:
    return _plain(references=references, on_delete=OnDelete.set_null, on_update=OnUpdate.cascade,
                  target_column=None, null=True, index=index)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="models", description=DESCRIPTION)

    def column(table_class: str, table: str, name: str, kind, params: dict) -> None:
        manager.add_column(table_class_name=table_class, tablename=table, column_name=name, db_column_name=name,
                           column_class_name=kind.__name__, column_class=kind, params=params, schema=None)

    column("Membership", "membership", "left_at", Timestamptz, _plain(default=None, null=True))
    column("Membership", "membership", "left_by", ForeignKey, _fk(Person))
    column("Membership", "membership", "left_reason", Varchar, _plain(length=200, default=""))
    column("Membership", "membership", "moved_from", ForeignKey, _fk(Section))
    column("Membership", "membership", "moved_at", Timestamptz, _plain(default=None, null=True))
    column("Person", "person", "deactivated_at", Timestamptz, _plain(default=None, null=True))

    manager.add_table(class_name="RosterChange", tablename="roster_change", schema=None, columns=None)
    column("RosterChange", "roster_change", "at", Timestamptz, _plain(default=TimestamptzNow(), index=True))
    column("RosterChange", "roster_change", "actor", ForeignKey, _fk(Person))
    column("RosterChange", "roster_change", "action", Varchar, _plain(length=20, default=""))
    column("RosterChange", "roster_change", "person", ForeignKey, _fk(Person, index=True))
    column("RosterChange", "roster_change", "cohort", ForeignKey, _fk(Cohort, index=True))
    column("RosterChange", "roster_change", "details", Text, _plain(default=""))
    return manager
