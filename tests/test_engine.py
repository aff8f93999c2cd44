"""CADENCE_DATABASE_URL picks the engine: SQLite file paths relative or absolute, PostgreSQL DSNs."""

import pytest
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from models.engine import engine_from_url


def test_sqlite_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = engine_from_url("sqlite:///data/cadence.db")
    assert isinstance(relative, SQLiteEngine) and relative.path == "data/cadence.db"
    absolute = engine_from_url(f"sqlite:///{tmp_path}/abs.db")
    assert absolute.path == f"{tmp_path}/abs.db"


@pytest.mark.filterwarnings("ignore:.*Unable to connect to database")  # Piccolo probes the version at init
def test_postgres_dsn():
    engine = engine_from_url("postgres://u:p@127.0.0.1:5432/cadence")
    assert isinstance(engine, PostgresEngine)
    assert engine.config["dsn"].startswith("postgresql://")


@pytest.mark.parametrize("url", ["sqlite://relative.db", "postgresql://u:p@/", "mongodb://x"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError, match="CADENCE_DATABASE_URL"):
        engine_from_url(url)


def _reader_engine(tmp_path):
    import sqlite3

    path = tmp_path / "reader.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE thing (id INTEGER PRIMARY KEY, name TEXT)")
    return engine_from_url(f"sqlite:///{path}")


def test_the_sqlite_read_connection_sees_every_committed_write(tmp_path):
    """Reads outside a transaction share one long-lived connection per thread; each still sees what was committed
    before it (writes go through their own connections), inside and outside transactions."""
    import asyncio

    from piccolo.querystring import QueryString

    engine = _reader_engine(tmp_path)

    async def names():
        rows = await engine.run_querystring(QueryString("SELECT name FROM thing ORDER BY id"))
        return [row["name"] for row in rows]

    async def scenario():
        seen = [await names()]
        await engine.run_querystring(QueryString("INSERT INTO thing (name) VALUES ({})", "a"))
        seen.append(await names())
        async with engine.transaction():
            await engine.run_querystring(QueryString("INSERT INTO thing (name) VALUES ({})", "b"))
        seen.append(await names())
        await engine.run_querystring(QueryString("DELETE FROM thing WHERE name = {}", "a"))
        seen.append(await names())
        return seen

    assert asyncio.run(scenario()) == [[], ["a"], ["a", "b"], ["b"]]
    # the same engine keeps working on a second event loop (each test and CLI command runs its own)
    assert asyncio.run(names()) == ["b"]
    # and on another thread, which opens its own connection (a sqlite3 connection is not shared across threads)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as other:
        assert other.submit(asyncio.run, names()).result() == ["b"]


def test_the_read_connection_gives_the_rows_piccolos_connection_gives(tmp_path):
    """The read path builds its dict rows itself (names read once per query); they are the rows Piccolo's own
    aiosqlite connection gives, converters and a repeated column name (the last one wins) included."""
    import asyncio
    import sqlite3

    from piccolo.engine.sqlite import SQLiteEngine

    engine = _reader_engine(tmp_path)
    with sqlite3.connect(engine.path) as setup:
        setup.execute("CREATE TABLE stamp (id INTEGER PRIMARY KEY, at TIMESTAMPTZ, on_ BOOLEAN, n INTEGER)")
        setup.execute("INSERT INTO stamp (at, on_, n) VALUES ('2026-03-29 01:30:00', 1, 7), (NULL, 0, NULL)")
        setup.execute("INSERT INTO thing (name) VALUES ('a'), ('b')")
    queries = ["SELECT * FROM stamp ORDER BY id", "SELECT t.id, s.id, t.name AS id_name FROM thing t "
               "JOIN stamp s ON s.id = t.id ORDER BY t.id", "SELECT * FROM thing WHERE name = 'none'"]

    async def piccolos(query):  # Piccolo's own path: a new aiosqlite connection with its dict_factory
        return await SQLiteEngine._run_in_new_connection(engine, query, [])

    for query in queries:
        ours = engine.read(query, [])
        assert ours == asyncio.run(piccolos(query)), query
        assert all(type(row) is dict for row in ours)
    assert engine.read(queries[1], []) == [{"id": 1, "id_name": "a"}, {"id": 2, "id_name": "b"}]


def test_a_forked_child_opens_its_own_read_connection(tmp_path):
    """The read connection is per process: a child forked after a read (a served worker) does not use the
    parent's connection, without asking the kernel for its pid on every query."""
    import os

    engine = _reader_engine(tmp_path)
    assert engine.read("SELECT COUNT(*) AS n FROM thing", []) == [{"n": 0}]
    parent = engine._connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh connection, and it works
        try:
            fresh = engine._connection() is not parent and engine.read("SELECT 1 AS one", []) == [{"one": 1}]
            os.write(write, b"1" if fresh else b"0")
        finally:
            os._exit(0)
    os.close(write)  # so a child that died without a word reads as b"", not as a wait for ever
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    os.close(read)
    assert engine._connection() is parent


def test_the_sqlite_read_connection_cannot_write(tmp_path):
    """Only single SELECT statements take the shared connection, and it is query_only besides."""
    import sqlite3

    from models.engine import _is_read

    assert _is_read('  SELECT ALL "x" FROM "thing"') and _is_read("select 1;")
    assert not _is_read("INSERT INTO thing VALUES (1, 'x')")
    assert not _is_read("SELECT 1; DELETE FROM thing")
    assert not _is_read("WITH gone AS (DELETE FROM thing RETURNING id) SELECT * FROM gone")
    assert _is_read("WITH n AS (SELECT COUNT(*) AS total FROM thing) SELECT name, (SELECT total FROM n) FROM thing")
    assert _is_read("with n as (select 1 as updated_at) select updated_at from n")  # a column, not a write
    for write in ("WITH n AS (SELECT 1) INSERT INTO thing (name) SELECT 'x' FROM n",
                  "WITH n AS (SELECT id FROM thing) UPDATE thing SET name = 'y' WHERE id IN (SELECT id FROM n)",
                  "WITH n AS (SELECT 1) REPLACE INTO thing (name) VALUES ('z')"):
        assert not _is_read(write), write
    engine = _reader_engine(tmp_path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        engine.read("INSERT INTO thing (name) VALUES ('x')", [])


def test_a_pooled_read_is_one_statement_and_a_transaction_leaves_nothing_behind(monkeypatch):
    """On PostgreSQL a connection goes back to the pool without asyncpg's reset statement (a second round trip
    per read: `server.db._keep_session`); a transaction that failed is still rolled back, and what one set with
    SET LOCAL ends with it, so the next read on that connection starts clean."""
    import asyncio

    import asyncpg
    from conftest import DATABASE_URL, ON_POSTGRES, need_postgres
    from piccolo.engine.postgres import PostgresEngine
    from piccolo.querystring import QueryString

    from server.db import connection_pool

    url = DATABASE_URL if ON_POSTGRES else need_postgres()
    sent: list[str] = []
    original = asyncpg.connection.Connection.execute

    async def execute(self, query, *args, **kwargs):
        sent.append(query)
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "execute", execute)

    async def scenario():
        engine = PostgresEngine(config={"dsn": url})
        async with connection_pool(engine, min_size=1, max_size=1):  # one connection: reused
            for _ in range(3):
                assert [dict(row) for row in await engine.run_querystring(QueryString("SELECT 1 AS one"))] == [{"one": 1}]
            with pytest.raises(asyncpg.DivisionByZeroError):
                async with engine.transaction():
                    await engine.run_querystring(QueryString("SET LOCAL statement_timeout = '1234ms'"))
                    await engine.run_querystring(QueryString("SELECT 1 / 0"))
            rows = await engine.run_querystring(QueryString("SELECT current_setting('statement_timeout') AS t"))
            assert rows[0]["t"] != "1234ms"
            async with engine.transaction():
                await engine.run_querystring(QueryString("SET LOCAL statement_timeout = '1234ms'"))
            rows = await engine.run_querystring(QueryString("SELECT current_setting('statement_timeout') AS t"))
            assert rows[0]["t"] != "1234ms"

    asyncio.run(scenario())
    assert not [query for query in sent if "RESET ALL" in query], sent


def test_a_request_holds_one_connection_and_a_transaction_never_waits_for_a_second():
    """Inside `request_connection` (a middleware opens it around every request) the queries of a request share
    one pool connection, taken at the first and handed back at the end; concurrent reads of one request take
    turns on it, and a transaction gives it back before taking its own, so a pool of one never deadlocks."""
    import asyncio

    from conftest import DATABASE_URL, ON_POSTGRES, need_postgres
    from piccolo.querystring import QueryString

    from models.engine import RequestConnectionPostgresEngine, request_connection
    from server.db import connection_pool

    url = DATABASE_URL if ON_POSTGRES else need_postgres()

    async def pid(engine) -> int:
        return (await engine.run_querystring(QueryString("SELECT pg_backend_pid() AS pid")))[0]["pid"]

    async def scenario():
        engine = RequestConnectionPostgresEngine(config={"dsn": url})
        async with connection_pool(engine, min_size=1, max_size=2):
            outside = {await pid(engine) for _ in range(3)}
            assert engine.pool.get_idle_size() == engine.pool.get_size()  # each query gave its connection back
            async with request_connection(engine):
                assert engine.pool.get_idle_size() == engine.pool.get_size()  # nothing taken before a query
                held = {await pid(engine) for _ in range(3)}
                assert len(held) == 1
                assert engine.pool.get_idle_size() == engine.pool.get_size() - 1  # held between queries
                assert set(await asyncio.gather(*(pid(engine) for _ in range(5)))) == held
            assert engine.pool.get_idle_size() == engine.pool.get_size()  # handed back at the end
        async with connection_pool(engine, min_size=1, max_size=1):  # one connection: a second would never come
            async with request_connection(engine):
                await pid(engine)
                async with asyncio.timeout(10):
                    async with engine.transaction():
                        await engine.run_querystring(QueryString("SELECT 1"))
                    await pid(engine)
            assert engine.pool.get_idle_size() == 1
        return outside

    assert asyncio.run(scenario())


def test_our_sqlite_converters_answer_as_piccolos_do():
    """models/engine.py registers faster converters for TIMESTAMPTZ and BOOLEAN columns in place of Piccolo's
    (sqlite3 keeps one per declared type, for every connection), and none for INTEGER columns; each column reads
    as Piccolo's converter would answer, and a read through the engine sees them."""
    import sqlite3

    from piccolo.engine.sqlite import CONVERTERS

    import models.engine as engine

    cases = {
        "TIMESTAMPTZ": [b"2027-03-03 14:00:00+00:00", b"2027-03-03 14:00:00", b"2027-10-31 01:30:00.250000+00:00",
                        b"2027-03-03T14:00:00", "2027-03-03 14:00:00+00:00"],
        "BOOLEAN": [b"1", b"0", "1", "0"],
    }
    ours = {"TIMESTAMPTZ": engine._timestamptz_out, "BOOLEAN": engine._boolean_out}
    for kind, values in cases.items():
        for value in values:
            mine, piccolos = ours[kind](value), CONVERTERS[kind](value)
            assert mine == piccolos and type(mine) is type(piccolos), (kind, value, mine, piccolos)
            if kind == "TIMESTAMPTZ":
                assert mine.tzinfo is piccolos.tzinfo
    assert "INTEGER" not in sqlite3.converters
    # Every integral value an INTEGER column is given, SQLite stores as an integer, and sqlite3 reads it as the int
    # Piccolo's converter makes of its text.
    connection = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
    connection.execute("CREATE TABLE t (n INTEGER, at TIMESTAMPTZ, ok BOOLEAN)")
    given = [0, -5, 42, 2**62, -(2**63), True, 1.0, -3.0, "7", " 7 ", "1e3", "-12"]
    connection.executemany("INSERT INTO t (n) VALUES (?)", [(value,) for value in given])
    for value, (n, text, kind) in zip(given, connection.execute("SELECT n, CAST(n AS TEXT), typeof(n) FROM t"),
                                      strict=True):
        assert kind == "integer" and type(n) is int and n == CONVERTERS["INTEGER"](text.encode()), (value, n, kind)
    connection.execute("DELETE FROM t")
    connection.execute("INSERT INTO t VALUES (7, '2027-03-03 14:00:00+00:00', 1)")
    n, at, ok = connection.execute("SELECT n, at, ok FROM t").fetchone()
    assert (n, ok) == (7, True) and at == CONVERTERS["TIMESTAMPTZ"](b"2027-03-03 14:00:00+00:00")
