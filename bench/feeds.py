"""Calendar-feed benchmark: build a 60-event feed from real rows, and answer a conditional GET with 304.

`run()` returns [(label, value), ...] for `python -m bench`. It measures in a child process whose
CADENCE_DATABASE_URL is a throw-away SQLite file brought to the current schema by the migrations (Piccolo binds
the engine at import, and the stored ETag needs the triggers of models_0006). The 304 goes through the whole
app (token lookup, stored ETag compare, no build).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUNS = 30
SESSIONS = 48  # + MODULES deadlines = 60 events
MODULES = 12
START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
STAMP = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _seed() -> int:
    """One learner (Europe/London) in a section with 48 sessions, each with 2 units and 2 prework modules."""
    from models.tables import (
        AsyncModule,
        Cohort,
        LiveSession,
        Membership,
        ModuleCompletion,
        Person,
        Program,
        Section,
        SessionPrework,
        SessionUnit,
        Unit,
    )

    async def insert(table, **values) -> int:
        return (await table.insert(table(**values)).returning(table.id))[0]["id"]

    learner = await insert(Person, email="learner@bench.test", name="Bench Learner", timezone="Europe/London",
                           created_at=STAMP)
    facilitator = await insert(Person, email="fac@bench.test", name="Bench Facilitator", role="facilitator",
                               timezone="America/New_York", created_at=STAMP)
    program = await insert(Program, slug="bench", name="Bench Program")
    units = [await insert(Unit, program=program, slug=f"u{i}", title=f"Unit {i}", minutes=30, position=i)
             for i in range(8)]
    cohort = await insert(Cohort, program=program, name="Bench cohort", start_date=date(2027, 3, 1), weeks=24,
                          status="published", published_at=STAMP)
    section = await insert(Section, cohort=cohort, key="bench/a")
    await insert(Membership, cohort=cohort, person=learner, role="learner", section=section)
    modules = []
    for i in range(MODULES):
        due = START + timedelta(days=7 * i) - timedelta(days=1)
        modules.append(await insert(
            AsyncModule, cohort=cohort, unit=units[i % len(units)], key=f"m{i}", uid=f"module-{i}@bench",
            title=f"Module {i}", minutes=15, release_at=due - timedelta(days=5), due_at=due, updated_at=STAMP,
        ))
    for i in range(SESSIONS):
        start = START + timedelta(days=3.5 * i)
        session = await insert(
            LiveSession, cohort=cohort, section=section, key=f"s{i}", uid=f"session-{i}@bench", starts_at=start,
            ends_at=start + timedelta(hours=1), facilitator=facilitator, join_url=f"https://meet.example.com/{i}",
            sequence=i % 3, updated_at=STAMP,
        )
        for position in range(2):
            await insert(SessionUnit, session=session, unit=units[(i + position) % len(units)], minutes=30,
                         position=position)
        for module in modules[(i // 4) % MODULES:][:2]:
            await insert(SessionPrework, session=session, module=module)
    for module in modules[: MODULES // 2]:
        await insert(ModuleCompletion, module=module, person=learner, completed_at=STAMP)
    return learner


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms (median of {len(samples)})"


def run() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="cadence-bench-feeds-") as tmp:
        env = {**os.environ, "CADENCE_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
               "CADENCE_SECRET_KEY": os.environ.get("CADENCE_SECRET_KEY") or "bench-" + "k" * 40}
        done = subprocess.run([sys.executable, "-m", "bench.feeds", "--child"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return [("feed timings", f"not measured: {done.stderr.strip()[-300:]}")]
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def _measure() -> list[tuple[str, str]]:
    from models.migrate import upgrade
    from models.tables import Person

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per timed request drowns the table

    from server.services.feed_tokens import feed_token_for
    from server.services.feeds import build_feed

    secret = os.environ["CADENCE_SECRET_KEY"]
    base_url = "http://127.0.0.1:8000"
    results: list[tuple[str, str]] = []
    async def prepare():
        await upgrade()
        person_id = await _seed()
        person = await Person.select().where(Person.id == person_id).first()
        return person, await feed_token_for(person_id, secret, now=START)

    person, token = asyncio.run(prepare())

    async def build_many():
        samples, built = [], None
        for _ in range(RUNS):
            began = time.perf_counter()
            built = await build_feed(person, now=START, base_url=base_url)
            samples.append(time.perf_counter() - began)
        return samples, built

    samples, built = asyncio.run(build_many())
    events = built.body.count(b"BEGIN:VEVENT")
    results.append((f"feed: build a {events}-event feed ({len(built.body) // 1024} KiB)", _median_ms(samples)))
    results.append(("feed: 304 Not Modified over HTTP", _answer_304(token)))
    return results


def _answer_304(token: str) -> str:
    try:
        from litestar.testing import TestClient

        from server.app import create_app

        app = create_app()
    except Exception as error:  # the app needs its static assets (make install); say so instead of failing
        return f"not measured: {error}"
    samples = []
    with TestClient(app) as client:
        url = f"/feed/{token}.ics"
        etag = client.get(url).headers["etag"]
        for _ in range(RUNS):
            began = time.perf_counter()
            response = client.get(url, headers={"If-None-Match": etag})
            samples.append(time.perf_counter() - began)
            if response.status_code != 304:
                return f"not measured: expected 304, got {response.status_code}"
    return _median_ms(samples)


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(_measure()))
    else:
        for label, value in run():
            print(f"{label}: {value}")
