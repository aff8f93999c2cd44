"""Planner runs on the real job queue, solved by real `cadence worker` processes (Huey's consumer):

- a plan asked for through the web is solved by a worker process, not the web process;
- a worker SIGKILLed mid-solve: once its heartbeat is stale another worker takes the run and finishes it,
  once; the published plan is untouched;
- cancel stops a run within 2 s and keeps its best plan;
- a planner run goes ahead of the periodic chores queued before it;
- two workers on PostgreSQL and 10 runs, each nudged twice: every run is claimed and solved once;
- the web process never imports OR-Tools to serve the plan pages.

Each test uses a queue name of its own, so no other worker (the module-wide one other files start) takes
its runs. On the PostgreSQL pass the test database is PostgreSQL; the two-worker test needs PostgreSQL on
both passes (CADENCE_TEST_POSTGRES_URL), like the migration tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from conftest import DATABASE_URL, EXAMPLES, ON_POSTGRES, ROOT, need_postgres
from web_helpers import make_person, post_form, run, sign_in, web_client
from worker_helpers import BIN, running_worker, wait_until

from models.tables import Cohort, LiveSession, PlannerRun
from server.jobs import build_queue
from server.settings import Settings

ATLANTIC = "Support Atlantic - March 2027"


def queue_env() -> dict[str, str]:
    return {"CADENCE_QUEUE_NAME": f"test-{uuid.uuid4().hex[:12]}"}


def nudger(env: dict[str, str]):
    """This test's queue, as the web would reach it."""
    return build_queue(Settings.from_env({**os.environ, **env}))


def row(run_id: int) -> dict:
    return run(PlannerRun.select().where(PlannerRun.id == run_id).first())


def result(r: dict) -> dict:
    return json.loads(r["result"]) if isinstance(r["result"], str) else r["result"]


def rollout_cohorts() -> list[int]:
    """Three generated cohorts (bench's rollout-03): with one CP-SAT worker the search runs its whole time
    limit, improving now and then, so a run is reliably caught mid-solve."""
    from bench.family import rollout
    from server.services.importing import import_problem

    return run(import_problem(rollout(3, 80, (1, 2), 10.0, 3).problem, now=datetime.now(UTC))).cohort_ids


def import_atlantic() -> None:
    from planner.loading import load_problem
    from server.services.importing import import_problem

    run(import_problem(load_problem(EXAMPLES / "program.toml", [EXAMPLES / "cohort-atlantic.toml"]),
                       now=datetime.now(UTC)))


def start_run(cohort_ids: list[int], time_limit: int) -> int:
    from server.services.planner_runs import create_run

    cohorts = run(Cohort.select(Cohort.name, Cohort.program).where(Cohort.id.is_in(cohort_ids)))
    return run(create_run(cohorts[0]["program"], [c["name"] for c in cohorts], None, time_limit,
                          now=datetime.now(UTC)))


def test_a_plan_asked_for_on_the_web_is_solved_by_a_worker_process(db, tmp_path, examples, monkeypatch):
    env = queue_env()
    designer = make_person("dee@example.org", "designer")
    import_atlantic()
    cohort = run(Cohort.select().where(Cohort.name == ATLANTIC).first())
    for name, value in env.items():  # the web app in this process nudges this test's queue
        monkeypatch.setenv(name, value)
    with running_worker(tmp_path / "worker.log", **env) as worker, web_client() as client:
        sign_in(client, designer.email)
        started = post_form(client, "/plans", {"cohort": [str(cohort["id"])], "time_limit": "2"})
        assert started.status_code == 303, started.text
        run_id = int(started.headers["location"].rsplit("/", 1)[1])
        wait_until(lambda: row(run_id)["status"] == "done", 60, "the worker to solve the run", worker)
        page = client.get(f"/plans/{run_id}")
    done = row(run_id)
    assert done["attempts"] == 1 and done["heartbeat_at"] is not None
    host, pid = done["claimed_by"].rsplit(":", 1)
    assert host == socket.gethostname() and int(pid) not in (os.getpid(), worker.process.pid)  # a worker process
    assert "Publish this plan" in page.text and "Week 1" in page.text


def test_sigkill_mid_solve_another_worker_finishes_the_run_once(db, tmp_path):
    from planner.solve import solve
    from server.services.planning import problem_from_db
    from server.services.publishing import publish_plan

    ids = rollout_cohorts()
    now = datetime.now(UTC)
    run(publish_plan(solve(run(problem_from_db(ids, now=now)), time_limit=1, workers=1), ids, now=now))
    published = run(LiveSession.select().order_by(LiveSession.id))
    assert published
    env = {**queue_env(), "CADENCE_JOB_STALE_AFTER": "2"}
    run_id = start_run(ids, time_limit=3)
    nudger(env).nudge(run_id)

    with running_worker(tmp_path / "first.log", **env) as first:
        wait_until(lambda: row(run_id)["solutions"] >= 1, 60, "the first worker to report progress", first)
        first.kill()
    killed = row(run_id)
    assert killed["status"] == "running" and killed["attempts"] == 1

    def stale() -> bool:
        beat = row(run_id)["heartbeat_at"]
        return (datetime.now(UTC) - beat).total_seconds() > 2.5

    wait_until(stale, 10, "the dead worker's heartbeat to go stale")
    assert row(run_id)["status"] == "running"  # nobody took it back yet: no worker is running
    with running_worker(tmp_path / "second.log", **env) as second:  # its periodic reaper runs at start
        wait_until(lambda: row(run_id)["status"] not in ("queued", "running"), 60,
                   "the second worker to finish the run", second)
    done = row(run_id)
    assert done["status"] == "done", result(done)
    assert done["attempts"] == 2 and done["claimed_by"] != killed["claimed_by"]
    assert "cohorts" in result(done)
    assert run(LiveSession.select().order_by(LiveSession.id)) == published  # publishing is the designer's call


def test_a_planner_run_goes_ahead_of_the_chores_queued_before_it(db):
    """The reaper re-queues a dead worker's run behind the minute's chores; an email pass can take a while, so
    the run must not wait for it. The real queue store (SQLite file, or PostgreSQL) orders them."""
    jobs = nudger(queue_env())
    try:
        jobs.notify()
        jobs.mark_absent()
        jobs.nudge(7)
        jobs.reap_runs()
        order = [(task.name, task.args) for task in iter(jobs.huey.dequeue, None)]
    finally:
        jobs.huey.flush()
    assert order == [("plan_run", (7,)), ("notify", ()), ("mark_absent", ()), ("reap_runs", ())]


def test_cancel_stops_a_run_within_two_seconds_and_keeps_its_best_plan(db, tmp_path):
    import time

    designer = make_person("dee@example.org", "designer")
    ids = rollout_cohorts()
    env = queue_env()
    run_id = start_run(ids, time_limit=30)
    nudger(env).nudge(run_id)
    with running_worker(tmp_path / "worker.log", **env) as worker, web_client() as client:
        sign_in(client, designer.email)
        wait_until(lambda: row(run_id)["solutions"] >= 1, 60, "progress from the worker", worker)
        going = client.get(f"/plans/{run_id}/status", headers={"HX-Request": "true"})
        assert "<progress" in going.text and "Best so far" in going.text and "Cancel" in going.text
        asked = time.monotonic()
        stopping = post_form(client, f"/plans/{run_id}/cancel", htmx=True)
        assert stopping.status_code == 200 and "Stopping" in stopping.text
        wait_until(lambda: row(run_id)["status"] not in ("queued", "running"), 10, "the run to stop", worker)
        took = time.monotonic() - asked
        page = client.get(f"/plans/{run_id}")
    stopped = row(run_id)
    assert stopped["status"] == "cancelled" and took < 2.0, (stopped["status"], took)
    kept = result(stopped)
    assert kept["stopped_by"] == "cancelled" and kept["cohorts"]
    assert "best plan found before it stopped" in page.text and "Publish this plan" in page.text


def test_the_web_process_never_imports_ortools_to_serve_the_plan_pages(db, examples):
    make_person("dee@example.org", "designer")
    import_atlantic()
    cohort = run(Cohort.select().where(Cohort.name == ATLANTIC).first())
    script = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from web_helpers import post_form, sign_in, web_client
with web_client() as client:
    assert sign_in(client, "dee@example.org").status_code == 303
    assert client.get("/cohorts/{cohort["id"]}").status_code == 200
    started = post_form(client, "/plans", {{"cohort": ["{cohort["id"]}"], "time_limit": "2"}})
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    assert client.get(url).status_code == 200
    assert client.get(url + "/status", headers={{"HX-Request": "true"}}).status_code == 200
    assert post_form(client, url + "/cancel").status_code == 303
    assert client.get(url).status_code == 200
print("ortools" in sys.modules, sorted(m for m in sys.modules if m.startswith("ortools"))[:3])
"""
    env = {**os.environ, **queue_env()}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("False"), done.stdout


# --- two workers on PostgreSQL ----------------------------------------------------------------------------

def postgres_url() -> str:
    """The test database on the PostgreSQL pass; otherwise the separate PostgreSQL database (reset here)."""
    if ON_POSTGRES:
        return DATABASE_URL
    url = need_postgres()

    async def reset():
        import asyncpg

        con = await asyncpg.connect(url)
        try:
            await con.execute("DROP SCHEMA public CASCADE")
            await con.execute("CREATE SCHEMA public")
        finally:
            await con.close()

    asyncio.run(reset())
    upgrade = subprocess.run([str(BIN / "cadence"), "db", "upgrade"], env={**os.environ, "CADENCE_DATABASE_URL": url},
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    return url


def pg_rows(url: str, query: str) -> list[dict]:
    async def fetch():
        import asyncpg

        con = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await con.fetch(query)]
        finally:
            await con.close()

    return asyncio.run(fetch())


@pytest.mark.postgres
def test_two_workers_on_postgres_solve_ten_queued_runs_once_each(request, tmp_path):
    if ON_POSTGRES:
        request.getfixturevalue("db")
    url = postgres_url()
    env = {**queue_env(), "CADENCE_DATABASE_URL": url}
    seed = f"""
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from planner.loading import load_problem
from server.services.importing import import_problem
from server.services.planner_runs import create_run
from server.jobs import queue

async def main():
    ex = Path({str(EXAMPLES)!r})
    await import_problem(load_problem(ex / "program.toml", [ex / "cohort-atlantic.toml"]), now=datetime.now(UTC))
    from models.tables import Cohort
    cohort = await Cohort.select().where(Cohort.name == {ATLANTIC!r}).first()
    return [await create_run(cohort["program"], [cohort["name"]], None, 1, now=datetime.now(UTC)) for _ in range(10)]

ids = asyncio.run(main())
for run_id in ids + ids:  # every run nudged twice: claims, not nudges, decide who solves
    queue().nudge(run_id)
print(" ".join(map(str, ids)))
"""
    seeded = subprocess.run([sys.executable, "-c", seed], env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    ids = [int(i) for i in seeded.stdout.split()]
    assert len(ids) == 10
    listed = ", ".join(map(str, ids))

    def logged() -> str:
        return "\n".join(w.log.read_text() for w in (a, b))

    def finished() -> bool:  # every run stored, and every one of the twenty nudges handled
        rows = pg_rows(url, f"SELECT status FROM planner_run WHERE id IN ({listed})")
        return (all(r["status"] not in ("queued", "running") for r in rows)
                and logged().count(": solved") + logged().count("not ours") >= 20)

    with running_worker(tmp_path / "a.log", **env) as a, running_worker(tmp_path / "b.log", **env) as b:
        wait_until(finished, 120, "two workers to solve ten runs and drop the ten second nudges", a, b)
    rows = pg_rows(url, f"SELECT id, status, attempts, claimed_by FROM planner_run WHERE id IN ({listed})")
    assert [r["status"] for r in rows] == ["done"] * 10, rows
    assert sum(r["attempts"] for r in rows) == 10  # ten claims for ten runs, twenty nudges
    assert all(r["claimed_by"] for r in rows)
    assert logged().count(": solved") == 10 and logged().count("not ours") == 10
