"""`cadence demo`: the example cohorts planned (real solver) and published, a designer, demo sign-ins; and
`--if-empty` leaves a seeded database alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from models_helpers import snapshot

from models.tables import Attendance, Cohort, LiveSession, ModuleCompletion, Notification, Person, PlannerRun
from planner.plan import plan_from_dict
from server.demo import DEMO_PASSWORD, seed_demo
from server.passwords import verify_password
from server.services.published_plan import published_plan

CADENCE = Path(sys.executable).parent / "cadence"
BASE = "http://127.0.0.1:8000"


@pytest.mark.anyio
@pytest.mark.slow
async def test_demo_seeds_a_published_plan_and_is_left_alone_the_second_time(db, capsys, tmp_path):
    assert await seed_demo(if_empty=True, now=datetime.now(UTC), base_url=BASE, time_limit=5) == 0

    out = capsys.readouterr().out
    assert f"Sign in with password '{DEMO_PASSWORD}'" in out
    for email in ("designer@example.com", "maya.okafor@example.com", "sam.rivera@example.com",
                  "jon.baker@example.com"):
        assert email in out

    designer = await Person.select().where(Person.email == "designer@example.com").first()
    assert (designer["name"], designer["role"], designer["timezone"]) == (
        "Dana Designer", "designer", "Europe/London")
    cohorts = await Cohort.select(Cohort.id, Cohort.name, Cohort.status).order_by(Cohort.name)
    assert [(c["name"], c["status"]) for c in cohorts] == [
        ("Support APAC - March 2027", "published"), ("Support Atlantic - March 2027", "published")]
    for cohort in cohorts:
        assert await LiveSession.count().where(LiveSession.cohort == cohort["id"]) > 0

    people = await Person.select(Person.email, Person.password_hash)
    assert len(people) == 21
    assert all(verify_password(p["password_hash"], DEMO_PASSWORD) for p in people), "every demo account signs in"
    assert not verify_password(people[0]["password_hash"], "wrong")

    run = await PlannerRun.select().where(PlannerRun.status == PlannerRun.Status.published).first()
    result = run["result"] if isinstance(run["result"], dict) else json.loads(run["result"])
    stored = await published_plan([c["id"] for c in cohorts])
    assert plan_from_dict(result).cohorts == stored.cohorts
    assert await ModuleCompletion.count() >= 3
    assert await Attendance.count() == 1
    # the demo's marks and completions have their events, so its trail agrees with its state (#13)
    from server.services.attendance_events import replay

    state = {("attendance", r["session"], r["person"]): r["status"] for r in await Attendance.select()}
    state |= {("completion", r["module"], r["person"]): "done" for r in await ModuleCompletion.select()}
    assert await replay() == state
    # the emails publishing sends wait in the outbox (no SMTP in the demo), rendered for their recipients
    outbox = await Notification.select().where(Notification.state == "outbox")
    assert {row["kind"] for row in outbox} == {"assignment", "invitation"}
    assert all(row["subject"] and row["body_html"] and row["body_text"] for row in outbox)

    before = await snapshot()
    env = {**os.environ}
    again = subprocess.run([str(CADENCE), "demo", "--if-empty"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "demo data already present"
    assert "designer@example.com" in again.stdout  # make run prints the sign-ins every time
    assert await snapshot() == before

    designer = await Person.select(Person.id).where(Person.email == "designer@example.com").first()
    await Person.update({Person.password_hash: "changed"}).where(Person.id == designer["id"])
    assert await seed_demo(if_empty=True, now=datetime.now(UTC), base_url=BASE) == 0
    assert capsys.readouterr().out == "demo data already present\n"  # no stale passwords once changed
