"""Migrations through the real CLI: an empty database reaches the current schema, a database at the first
migration that holds data reaches it without losing rows, a second run does nothing, and the unique indexes
refuse duplicate learner records. On a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import need_postgres

from models.migrate import all_tables

BIN = Path(sys.executable).parent
TABLES = sorted(table._meta.tablename for table in all_tables())
# Tables later migrations add: a database at migration 0001 has every other one.
LATER_TABLES = {"absence", "roster_change", "attendance_event", "checkin_throttle",
                "session_material", "session_feedback", "question", "answer",
                "notification", "notification_preference", "unsubscribe_token"}  # 0004, 0007-0009, 0011
# What 0008 makes of the seed: one "earlier" event for the attendance mark 0002 kept and one for the completion.
TRAIL = {"attendance_event": 2}
FIRST_TABLES = sorted(set(TABLES) - LATER_TABLES)
UNIQUE_INDEXES = {"attendance_session_person_unique", "module_completion_module_person_unique",
                  "membership_cohort_person_unique", "live_session_cohort_key_unique"}

# Every migration file in the app; each upgrade test expects all of them recorded once.
MIGRATIONS = len(list((Path(__file__).resolve().parent.parent / "models" / "piccolo_migrations").glob("models_*.py")))

# Rows a database at migration 0001 may hold, including a duplicate attendance record (the older one goes).
SEED = [
    "INSERT INTO person (id, email, name, role) VALUES (1, 'f@x.org', 'Fay', 'facilitator'), "
    "(2, 'a@x.org', 'Ann', 'learner')",
    "INSERT INTO program (id, slug, name) VALUES (1, 'p', 'Program')",
    "INSERT INTO unit (id, program, slug, title, minutes) VALUES (1, 1, 'intro', 'Intro', 60)",
    "INSERT INTO cohort (id, program, name, start_date, weeks) VALUES (1, 1, 'C', '2027-03-01', 2)",
    "INSERT INTO section (id, cohort, key) VALUES (1, 1, 'c/a')",
    "INSERT INTO membership (id, cohort, person, role, section) VALUES (1, 1, 2, 'learner', 1), "
    "(2, 1, 1, 'facilitator', NULL)",
    "INSERT INTO live_session (id, cohort, section, key, uid, starts_at, ends_at, facilitator) VALUES "
    "(1, 1, 1, 'c/a/1', 'session-1@cadence', '2027-03-01 10:00:00+00:00', '2027-03-01 11:00:00+00:00', 1)",
    "INSERT INTO async_module (id, cohort, unit, key, uid, title, minutes, release_at, due_at) VALUES "
    "(1, 1, 1, 'c/m1', 'module-1@cadence', 'Intro', 15, '2027-02-25 00:00:00+00:00', '2027-02-28 00:00:00+00:00')",
    "INSERT INTO module_completion (id, module, person, completed_at) VALUES "
    "(1, 1, 2, '2027-02-26 09:00:00+00:00')",
    "INSERT INTO attendance (id, session, person, status, marked_by, marked_at) VALUES "
    "(1, 1, 2, 'absent', 1, '2027-03-01 10:05:00+00:00'), (2, 1, 2, 'present', 1, '2027-03-01 10:06:00+00:00')",
    "INSERT INTO planner_run (id, program, cohort_names, status, time_limit, result, changes, started_at) VALUES "
    "(1, 1, '[\"C\"]', 'published', 10, '{}', '[]', '2027-02-20 09:00:00+00:00')",
]
# What migration 0005 makes of that run: planned as of its start, no claims, nothing to cancel.
QUEUE_COLUMNS = "SELECT status, attempts, claimed_by, cancel_requested, planned_at = started_at FROM planner_run"
EARLIER_EVENTS = "SELECT kind, to_state, source FROM attendance_event ORDER BY id"
SECOND_ATTENDANCE = ("INSERT INTO attendance (id, session, person, status, marked_at) VALUES "
                     "(3, 1, 2, 'late', '2027-03-01 10:07:00+00:00')")
SECOND_COMPLETION = "INSERT INTO module_completion (id, module, person) VALUES (2, 1, 2)"


def cadence(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CADENCE_DATABASE_URL": url}
    return subprocess.run([str(BIN / "cadence"), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


def first_migration_only(url: str, cwd: Path) -> None:
    """Bring an empty database to migration 0001 only (piccolo's "1" = the next migration)."""
    script = ("import asyncio; from piccolo.apps.migrations.commands.forwards import run_forwards; "
              "from models.tables import piccolo_bookkeeping\n"
              "with piccolo_bookkeeping(): r = asyncio.run(run_forwards('models', migration_id='1'))\n"
              "assert r.success, r.message")
    env = {**os.environ, "CADENCE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# --- SQLite ------------------------------------------------------------------------------------------------

def sqlite_schema(path: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return tables, indexes


def test_upgrade_creates_every_table_in_an_empty_sqlite_file(tmp_path):
    path = tmp_path / "fresh.db"
    result = cadence(f"sqlite:///{path}", "db", "upgrade", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database is at the current schema"
    tables, indexes = sqlite_schema(path)
    assert set(TABLES) <= tables
    assert UNIQUE_INDEXES <= indexes
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upgrade_keeps_the_rows_of_a_sqlite_database_at_the_first_migration(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    first_migration_only(url, tmp_path)
    tables, indexes = sqlite_schema(path)
    assert set(FIRST_TABLES) <= tables and not (UNIQUE_INDEXES & indexes)
    with sqlite3.connect(path) as con:
        for statement in SEED:
            con.execute(statement)
    counts_before = sqlite_counts(path, FIRST_TABLES)

    result = cadence(url, "db", "upgrade", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert UNIQUE_INDEXES <= sqlite_schema(path)[1]
    assert sqlite_counts(path) == {**counts_before, "attendance": 1, **dict.fromkeys(LATER_TABLES, 0), **TRAIL}
    with sqlite3.connect(path) as con:
        assert con.execute(EARLIER_EVENTS).fetchall() == [("attendance", "present", "earlier"),
                                                          ("completion", "done", "earlier")]
        assert con.execute("SELECT joined_at IS NOT NULL FROM membership").fetchall() == [(1,), (1,)]
    with sqlite3.connect(path) as con:
        assert con.execute(QUEUE_COLUMNS).fetchall() == [("published", 0, "", 0, 1)]
        assert con.execute("SELECT status FROM attendance").fetchall() == [("present",)]
        assert con.execute("SELECT email FROM person ORDER BY id").fetchall() == [("f@x.org",), ("a@x.org",)]
        for duplicate in (SECOND_ATTENDANCE, SECOND_COMPLETION):
            with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
                con.execute(duplicate)


def test_running_upgrade_twice_changes_nothing(tmp_path):
    path = tmp_path / "twice.db"
    url = f"sqlite:///{path}"
    assert cadence(url, "db", "upgrade", cwd=tmp_path).returncode == 0

    def state():
        with sqlite3.connect(path) as con:
            schema = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
            ran = con.execute("SELECT name, app_name FROM migration ORDER BY name").fetchall()
        return schema, ran

    before = state()
    second = cadence(url, "db", "upgrade", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert state() == before
    assert len(before[1]) == MIGRATIONS


def sqlite_counts(path: Path, names: list[str] = TABLES) -> dict[str, int]:
    with sqlite3.connect(path) as con:
        return {name: con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


# --- PostgreSQL --------------------------------------------------------------------------------------------

async def pg(url: str, *statements: str, fetch: str | None = None):
    import asyncpg

    con = await asyncpg.connect(url)
    try:
        for statement in statements:
            await con.execute(statement)
        if fetch:
            return [tuple(r) for r in await con.fetch(fetch)]
        return None
    finally:
        await con.close()


def pg_counts(url: str, names: list[str] = TABLES) -> dict[str, int]:
    query = " UNION ALL ".join(f"SELECT '{name}', COUNT(*) FROM \"{name}\"" for name in names)
    return dict(asyncio.run(pg(url, fetch=query)))


@pytest.mark.postgres
def test_postgres_empty_then_held_data_then_twice(tmp_path):
    url = need_postgres()
    asyncio.run(pg(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))

    # An empty database reaches the current schema.
    result = cadence(url, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tables = {r[0] for r in asyncio.run(pg(url, fetch="SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    assert set(TABLES) <= tables
    indexes = {r[0] for r in asyncio.run(pg(url, fetch="SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))}
    assert UNIQUE_INDEXES <= indexes
    instants = asyncio.run(pg(url, fetch="SELECT DISTINCT data_type FROM information_schema.columns WHERE "
                                         "table_schema = 'public' AND column_name LIKE '%\\_at'"))
    assert instants == [("timestamp with time zone",)]

    # A database at the first migration, holding data, upgrades without losing rows.
    asyncio.run(pg(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
    first_migration_only(url, tmp_path)
    asyncio.run(pg(url, *SEED))
    before = pg_counts(url, FIRST_TABLES)
    result = cadence(url, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert pg_counts(url) == {**before, "attendance": 1, **dict.fromkeys(LATER_TABLES, 0), **TRAIL}
    assert asyncio.run(pg(url, fetch=EARLIER_EVENTS)) == [("attendance", "present", "earlier"),
                                                          ("completion", "done", "earlier")]
    assert asyncio.run(pg(url, fetch="SELECT status FROM attendance")) == [("present",)]
    assert asyncio.run(pg(url, fetch=QUEUE_COLUMNS)) == [("published", 0, "", False, True)]
    started = asyncio.run(pg(url, fetch="SELECT starts_at FROM live_session"))
    assert started == [(datetime(2027, 3, 1, 10, tzinfo=UTC),)]

    # Twice is a no-op; duplicates are refused.
    ran = asyncio.run(pg(url, fetch="SELECT name FROM migration ORDER BY name"))
    assert cadence(url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert asyncio.run(pg(url, fetch="SELECT name FROM migration ORDER BY name")) == ran and len(ran) == MIGRATIONS
    import asyncpg

    for duplicate in (SECOND_ATTENDANCE, SECOND_COMPLETION):
        with pytest.raises(asyncpg.UniqueViolationError):
            asyncio.run(pg(url, duplicate))


# --- the test database, through the models -----------------------------------------------------------------

@pytest.mark.anyio
async def test_unique_indexes_refuse_a_second_attendance_and_a_second_completion(db):
    from models.tables import (
        AsyncModule,
        Attendance,
        Cohort,
        LiveSession,
        ModuleCompletion,
        Person,
        Program,
        Section,
        Unit,
    )

    now = datetime(2027, 3, 1, 10, tzinfo=UTC)
    fay = Person(email="f@x.org", name="Fay", role="facilitator")
    ann = Person(email="a@x.org", name="Ann")
    for row in (fay, ann):
        await row.save()
    program = Program(slug="p", name="P")
    await program.save()
    intro = Unit(program=program.id, slug="intro", title="Intro", minutes=60)
    cohort = Cohort(program=program.id, name="C", start_date=now.date(), weeks=1)
    await intro.save()
    await cohort.save()
    section = Section(cohort=cohort.id, key="c/a")
    await section.save()
    session = LiveSession(cohort=cohort.id, section=section.id, key="c/a/1", uid="s@x", starts_at=now,
                          ends_at=now, facilitator=fay.id)
    module = AsyncModule(cohort=cohort.id, unit=intro.id, key="m", uid="m@x", title="Intro", minutes=15,
                         release_at=now, due_at=now)
    await session.save()
    await module.save()

    await Attendance(session=session.id, person=ann.id, status="present", marked_by=fay.id, marked_at=now).save()
    with pytest.raises(Exception, match="(?i)unique"):
        await Attendance(session=session.id, person=ann.id, status="late", marked_at=now).save()
    await ModuleCompletion(module=module.id, person=ann.id, completed_at=now).save()
    with pytest.raises(Exception, match="(?i)unique"):
        await ModuleCompletion(module=module.id, person=ann.id, completed_at=now).save()
    assert await Attendance.count() == 1 and await ModuleCompletion.count() == 1


@pytest.mark.anyio
async def test_a_page_of_people_is_read_in_index_order_not_sorted(db):
    """The people list's query (name, id order, paged) walks the person (name, id) index of migration 0013
    rather than sorting every account (SQLite's plan; the test database runs every migration)."""
    from models.engine import is_sqlite
    from models.tables import Person
    from server.services import people

    engine = Person._meta.db
    if not is_sqlite(engine):
        rows = await Person.raw("SELECT indexname FROM pg_indexes WHERE indexname = 'person_name_id'")
        assert rows, "migration 0013's index is missing"
        return
    await Person.insert(*[Person(email=f"p{i}@x.org", name=f"P {i % 7}") for i in range(20)])
    seen: list[tuple[str, list]] = []
    read = type(engine).read

    def spying(self, query, args):
        seen.append((query, args))
        return read(self, query, args)

    type(engine).read = spying
    try:
        listing = await people.people_page(page=1)
    finally:
        type(engine).read = read
    assert [row["name"] for row in listing.rows] == sorted(row["name"] for row in listing.rows)
    query, args = next((q, a) for q, a in seen if "ORDER BY name" in q)
    plan = " | ".join(row["detail"] for row in engine.read("EXPLAIN QUERY PLAN " + query, args))
    assert "person_name_id" in plan and "TEMP B-TREE" not in plan, plan
