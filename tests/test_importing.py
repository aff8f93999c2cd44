"""Importing program and cohort files into the database: the example, re-imports, and bad input that must
leave the database exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from models_helpers import snapshot
from planner_helpers import cohort, facilitator, member, problem, program, unit

from models.tables import Cohort, Membership, Person, Program, Unit, UnitRequirement
from planner.errors import InputError
from planner.loading import load_problem
from planner.plan import CohortPlan, Plan, Portion, Section, Session, Status
from server.cli import import_files
from server.errors import UserError
from server.passwords import hash_password, verify_password
from server.services.importing import import_problem
from server.services.publishing import publish_plan

ROOT = Path(__file__).resolve().parent.parent
CADENCE = Path(sys.executable).parent / "cadence"
NOW = datetime(2027, 2, 1, tzinfo=UTC)  # before the test programs start


def example_paths(examples: Path) -> tuple[Path, list[Path]]:
    return examples / "program.toml", [examples / "cohort-apac.toml", examples / "cohort-atlantic.toml"]


@pytest.mark.anyio
async def test_the_example_files_import(db, examples, capsys):
    program_path, cohort_paths = example_paths(examples)
    assert await import_files(program_path, cohort_paths) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "program support-onboarding: 9 units"
    assert out[1].startswith("cohort 'Support APAC - March 2027' (id ") and "8 learners, 2 facilitators" in out[1]
    assert out[2].startswith("cohort 'Support Atlantic - March 2027' (id ") and "7 learners, 1 facilitator," in out[2]
    assert await Program.count() == 1
    assert await Unit.count() == 9
    assert await UnitRequirement.count() == 11
    assert await Cohort.count() == 2
    assert await Person.count() == 20
    assert await Membership.count() == 20
    roles = {r["email"]: r["role"] for r in await Person.select(Person.email, Person.role)}
    assert roles["maya.okafor@example.com"] == "facilitator"
    assert roles["jon.baker@example.com"] == "manager"
    assert roles["sam.rivera@example.com"] == "learner"
    omar = await Person.select().where(Person.email == "omar.said@example.com").first()
    assert (omar["timezone"], omar["work_start"], omar["work_end"], omar["work_days"]) == (
        "Asia/Riyadh", "09:00", "17:00", "Mon,Tue,Wed,Thu,Sun")
    sam = await Membership.select(Membership.manager.email.as_alias("manager")).where(
        Membership.person.email == "sam.rivera@example.com").first()
    assert sam["manager"] == "jon.baker@example.com"
    apac = await Cohort.select().where(Cohort.name == "Support APAC - March 2027").first()
    assert (apac["timezone"], apac["max_sections"], apac["weeks"], apac["status"]) == (
        "Asia/Singapore", 2, 5, "draft")


@pytest.mark.anyio
async def test_importing_twice_changes_nothing(db, examples, capsys):
    program_path, cohort_paths = example_paths(examples)
    await import_files(program_path, cohort_paths)
    before = await snapshot()
    await import_files(program_path, cohort_paths)
    assert await snapshot() == before


@pytest.mark.anyio
async def test_existing_people_keep_password_profile_and_designer_role(db, examples):
    await Person(email="maya.okafor@example.com", name="Maya O.", role="designer", timezone="Africa/Lagos",
                 work_start="10:00", work_end="16:00", work_days="Mon-Fri",
                 password_hash=hash_password("secret")).save()
    await import_problem(load_problem(*example_paths(examples)), now=NOW)
    maya = await Person.select().where(Person.email == "maya.okafor@example.com").first()
    assert maya["role"] == "designer"
    assert (maya["name"], maya["timezone"], maya["work_start"]) == ("Maya O.", "Africa/Lagos", "10:00")
    assert verify_password(maya["password_hash"], "secret")
    membership = await Membership.select(Membership.role).where(Membership.person == maya["id"]).first()
    assert membership["role"] == "facilitator"


@pytest.mark.anyio
async def test_a_bad_file_leaves_the_database_untouched(db, examples, tmp_path):
    program_path, cohort_paths = example_paths(examples)
    await import_files(program_path, cohort_paths[:1])
    before = await snapshot()
    bad = tmp_path / "cohort-atlantic.toml"
    bad.write_text(cohort_paths[1].read_text().replace('timezone = "Europe/Lisbon"', 'timezone = "Europe/Lisbn"'))

    with pytest.raises(InputError, match="cohort-atlantic.toml"):
        await import_files(program_path, [bad])
    assert await snapshot() == before


@pytest.mark.anyio
async def test_a_refusal_half_way_through_rolls_back_what_was_written(db):
    tiny = program(unit("intro", 60))
    first = cohort("Published", [facilitator("f@x.org"), member("a@x.org")])
    imported = await import_problem(problem(tiny, first), now=NOW)
    start = datetime(2027, 3, 1, 10, tzinfo=UTC)
    plan = Plan(Status.OPTIMAL, 0, 0, 1.0, (CohortPlan("Published", (Section("p/a", ("a@x.org",)),), (
        Session("p/a/1", "p/a", start, start + timedelta(hours=1), "f@x.org", (Portion("intro", 60),)),), ()),))
    await publish_plan(plan, imported.cohort_ids, now=start - timedelta(days=7))
    before = await snapshot()

    newcomer = cohort("Fresh", [facilitator("g@x.org"), member("new@x.org")])
    with pytest.raises(UserError, match="'Published' is already published"):
        await import_problem(problem(tiny, newcomer, first), now=NOW)
    assert await snapshot() == before

    changed = program(unit("intro", 90))
    with pytest.raises(UserError, match="a cohort of it is published"):
        await import_problem(problem(changed, newcomer), now=NOW)
    assert await snapshot() == before


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CADENCE_DATABASE_URL": os.environ["CADENCE_DATABASE_URL"]}
    return subprocess.run([str(CADENCE), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.mark.anyio
async def test_cadence_import_with_a_bad_file_prints_one_line_and_exits_2(db, examples, tmp_path):
    for name in ("program.toml", "cohort-apac.toml", "roster-apac.csv"):
        shutil.copy(examples / name, tmp_path / name)
    program_path = tmp_path / "program.toml"
    program_path.write_text(program_path.read_text().replace("minutes = 45", 'minutes = "forty-five"'))

    result = run_cli("import", str(program_path), str(tmp_path / "cohort-apac.toml"), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: program.toml: "), result.stderr
    assert await Person.count() == 0


@pytest.mark.anyio
async def test_cadence_import_of_the_example_succeeds(db, examples, tmp_path):
    program_path, cohort_paths = example_paths(examples)
    result = run_cli("import", str(program_path), *map(str, cohort_paths), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert await Cohort.count() == 2
