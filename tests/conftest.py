"""Shared fixtures. The database is chosen BEFORE any table is imported (Piccolo binds engines at import):

- CADENCE_DATABASE_URL=postgresql://... (CI's second pass): the suite runs on that PostgreSQL database,
  whose schema is wiped and migrated once per run.
- otherwise: a fresh SQLite file in a temporary directory for this run.

CADENCE_TEST_POSTGRES_URL (set by .ci/run in both passes) names a separate PostgreSQL database for the few
tests that must touch PostgreSQL even on the SQLite pass (migrations). Tests that need it or Debian's
chromium call `need_postgres()` / `need_chromium()`: they skip locally with the reason, and under CI=true
every skip is turned into a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "support-onboarding"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_tmp = Path(tempfile.mkdtemp(prefix="cadence-tests-"))
if not os.environ.get("CADENCE_DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    os.environ["CADENCE_DATABASE_URL"] = f"sqlite:///{_tmp / 'test.db'}"
os.environ.setdefault("CADENCE_SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ["CADENCE_PASSWORD_FAST"] = "1"  # cheap argon2 parameters in tests only
DATABASE_URL = os.environ["CADENCE_DATABASE_URL"]
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


def need_chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not path:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


def need_postgres() -> str:
    url = os.environ.get("CADENCE_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("no PostgreSQL server: set CADENCE_TEST_POSTGRES_URL (.ci/run does)")
    return url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which must run everything: {reason}"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def migrated_db():
    """The test database at the current schema (wiped first). Returns the URL."""
    import asyncio

    from models.migrate import reset_for_tests

    asyncio.run(reset_for_tests())
    return DATABASE_URL


@pytest.fixture
def db(migrated_db):
    """An empty database at the current schema for one test (rows deleted, schema kept)."""
    import asyncio

    from models.migrate import delete_all_rows

    asyncio.run(delete_all_rows())
    return migrated_db


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def output_dir() -> Path:
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="module")
def worker(migrated_db, tmp_path_factory):
    """One real `cadence worker` on this run's test database and default queue, for a module whose tests plan
    through the web (the web only enqueues; the worker solves)."""
    from worker_helpers import running_worker

    with running_worker(tmp_path_factory.mktemp("worker") / "worker.log") as running:
        yield running


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """For tests that start a real server (browser tests): a fresh SQLite file, or on the PostgreSQL pass the
    test database with every row deleted."""
    if ON_POSTGRES:
        request.getfixturevalue("db")
        return DATABASE_URL
    return f"sqlite:///{tmp_path / 'server.db'}"
