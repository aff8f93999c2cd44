"""The database commands of `cadence` as a user runs them: one line and exit 2 for anything they can fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.tables import Cohort

CADENCE = Path(sys.executable).parent / "cadence"


def cadence(*args: str, cwd: Path, url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if url is not None:
        env["CADENCE_DATABASE_URL"] = url
    return subprocess.run([str(CADENCE), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://cadence.db", "error: CADENCE_DATABASE_URL: expected sqlite:///PATH (three slashes)"),
        ("mysql://root@localhost/cadence", "error: CADENCE_DATABASE_URL: expected sqlite:///PATH or postgresql://"),
        ("postgresql://cadence:s3cret@127.0.0.1:1/cadence",
         "error: cannot use the database postgresql://cadence:***@127.0.0.1:1/cadence: "),
    ],
)
def test_db_upgrade_with_an_unusable_database_is_one_line(tmp_path, url, expected):
    result = cadence("db", "upgrade", cwd=tmp_path, url=url)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "s3cret" not in result.stderr


def test_import_creates_the_schema_of_a_new_database(tmp_path, examples):
    path = tmp_path / "new.db"
    result = cadence("import", str(examples / "program.toml"), str(examples / "cohort-atlantic.toml"),
                     cwd=tmp_path, url=f"sqlite:///{path}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("cohort 'Support Atlantic - March 2027' (id 1): 7 learners")


@pytest.mark.anyio
async def test_importing_a_published_cohort_again_is_one_line(db, examples, tmp_path):
    files = [str(examples / "program.toml"), str(examples / "cohort-apac.toml")]
    assert cadence("import", *files, cwd=tmp_path).returncode == 0
    await Cohort.update({Cohort.status: Cohort.Status.published}).where(Cohort.name == "Support APAC - March 2027")

    again = cadence("import", *files, cwd=tmp_path)

    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        "error: cohort 'Support APAC - March 2027' is already published and cannot be imported again; "
        "re-plan it instead"
    ]
