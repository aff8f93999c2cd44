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
