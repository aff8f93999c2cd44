"""The data of the serving benchmark, run as its own process against CADENCE_DATABASE_URL (Piccolo binds the
engine at import, so the bench process itself never imports the tables).

    python -m bench.serving_seed          # add a published cohort of 200 learners (100 report to one manager)
    python -m bench.serving_seed --ids    # the demo's ids and sign-ins, as JSON
    python -m bench.serving_seed --wipe   # drop every table (an empty PostgreSQL database for the bench)

Each prints one JSON line last.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "support-onboarding" / "program.toml"
ZONES = [("America/New_York", "09:00-17:00"), ("Europe/London", "09:00-17:30"), ("Europe/Berlin", "08:30-17:00"),
         ("Asia/Kolkata", "09:30-18:30"), ("America/Chicago", "08:00-16:00")]
BIG = "Bench - 200 learners"


def _files(folder: Path, learners: int, reports: int) -> Path:
    roster = folder / "roster.csv"
    with roster.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["email", "name", "role", "timezone", "hours", "days", "manager"])
        rows.writerow(["bench.facilitator@example.com", "Bench Facilitator", "facilitator", "Europe/London",
                       "07:00-19:00", "Mon-Fri", ""])
        rows.writerow(["bench.manager@example.com", "Bench Manager", "manager", "Europe/London", "", "", ""])
        rows.writerow(["bench.other@example.com", "Other Manager", "manager", "Europe/London", "", "", ""])
        for i in range(learners):
            zone, hours = ZONES[i % len(ZONES)]
            manager = "bench.manager@example.com" if i < reports else "bench.other@example.com"
            rows.writerow([f"bench.learner{i:03d}@example.com", f"Learner {i:03d}", "learner", zone, hours,
                           "Mon-Fri", manager])
    cohort = folder / "cohort.toml"
    cohort.write_text(f'name = "{BIG}"\nstart = 2027-03-08\nweeks = 5\ntimezone = "Europe/London"\n'
                      f'max_sections = 1\nroster = "roster.csv"\n')
    return cohort


async def seed_big(learners: int = 200, reports: int = 100) -> dict:
    from models.tables import Cohort, LiveSession, Membership, Person
    from planner.loading import load_problem
    from planner.solve import solve
    from server.db import write_transaction
    from server.passwords import hash_password
    from server.services.importing import import_problem
    from server.services.planner_runs import create_run, finish_run, publish_run
    from server.services.planning import problem_from_db

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        problem = load_problem(PROGRAM, [_files(Path(tmp), learners, reports)])
    imported = await import_problem(problem, now=now)
    planned = await problem_from_db(imported.cohort_ids, now=now)
    run_id = await create_run(imported.program_id, [BIG], None, 10, now=now)
    plan = await anyio.to_thread.run_sync(lambda: solve(planned, time_limit=10))
    await finish_run(run_id, plan, None, now=now)
    await publish_run(run_id, now=now)
    cohort = await Cohort.select(Cohort.id).where(Cohort.name == BIG).first()
    members = await Membership.select(Membership.person).where(Membership.cohort == cohort["id"])
    password = await anyio.to_thread.run_sync(hash_password, "cadence-demo")
    async with write_transaction():
        await Person.update({Person.password_hash: password}).where(
            Person.id.is_in([m["person"] for m in members]))
    session = await LiveSession.select(LiveSession.id).where(LiveSession.cohort == cohort["id"]).order_by(
        LiveSession.starts_at).first()
    return {"cohort": cohort["id"], "session": session["id"], "facilitator": "bench.facilitator@example.com",
            "manager": "bench.manager@example.com"}


async def demo_ids() -> dict:
    from models.tables import Cohort, LiveSession, PlannerRun, Program
    from server.demo import SIGN_INS

    cohorts = await Cohort.select(Cohort.id, Cohort.program).where(Cohort.name != BIG).order_by(Cohort.id)
    maya = "maya.okafor@example.com"
    session = await LiveSession.select(LiveSession.id).where(
        (LiveSession.facilitator.email == maya) & LiveSession.cohort.is_in([c["id"] for c in cohorts])
    ).order_by(LiveSession.starts_at).first()
    run = await PlannerRun.select(PlannerRun.id).order_by(PlannerRun.id).first()
    program = await Program.select(Program.id).where(Program.id == cohorts[0]["program"]).first()
    everyone = await Cohort.select(Cohort.id).order_by(Cohort.id)
    return {"emails": dict(SIGN_INS), "cohort": cohorts[0]["id"], "cohorts": [c["id"] for c in cohorts],
            "all_cohorts": [c["id"] for c in everyone],
            "session": session["id"], "run": run["id"], "program": program["id"]}


async def wipe() -> dict:
    from models.migrate import reset_for_tests

    await reset_for_tests()
    return {"wiped": True}


def main(argv: list[str]) -> int:
    work = demo_ids if "--ids" in argv else wipe if "--wipe" in argv else seed_big
    print(json.dumps(asyncio.run(work())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
