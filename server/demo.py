"""`cadence demo`: the example program and its two cohorts, planned and published, with a designer and a
little progress recorded, so every page has something to show.

Every demo account signs in with the password `cadence-demo`. It is printed on purpose: this data is for
trying Cadence on your own machine, never for a server others can reach.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import anyio

from models.migrate import upgrade
from models.tables import (
    AsyncModule,
    Attendance,
    AttendanceEvent,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
)
from server.db import write_transaction
from server.errors import UserError
from server.passwords import hash_password, verify_password
from server.services.attendance_events import DONE, Change, record_change
from server.services.importing import import_problem
from server.services.planner_runs import create_run, finish_run, publish_run
from server.services.planning import problem_from_db

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-onboarding"
DEMO_PASSWORD = "cadence-demo"
DESIGNER = ("designer@example.com", "Dana Designer", "Europe/London")
SIGN_INS = (
    ("designer", DESIGNER[0]),
    ("facilitator", "maya.okafor@example.com"),
    ("learner", "sam.rivera@example.com"),
    ("manager", "jon.baker@example.com"),
)


async def seed_demo(*, if_empty: bool, now: datetime, base_url: str, time_limit: float = 10.0) -> int:
    """Seed the demo (planned as of `now`) and print how to sign in at `base_url`."""
    from planner.loading import load_problem
    from planner.plan import PlanningError
    from planner.solve import solve

    await upgrade()
    out = sys.stdout
    if if_empty and await Person.count() > 0:
        out.write("demo data already present\n")
        await _print_sign_ins_if_still_demo(out, base_url)
        return 0

    problem = load_problem(EXAMPLE / "program.toml", [EXAMPLE / "cohort-apac.toml", EXAMPLE / "cohort-atlantic.toml"])
    names = [cohort.name for cohort in problem.cohorts]
    if await Cohort.exists().where(Cohort.name.is_in(names) & (Cohort.status == Cohort.Status.published)):
        out.write("demo data already present (its cohorts are published)\n")
        await _print_sign_ins_if_still_demo(out, base_url)
        return 0

    imported = await import_problem(problem, now=now)
    designer_id = await _designer()
    planned = await problem_from_db(imported.cohort_ids, now=now)
    run_id = await create_run(imported.program_id, names, designer_id, int(time_limit), now=now)
    try:
        plan = await anyio.to_thread.run_sync(lambda: solve(planned, time_limit=time_limit))
    except PlanningError as error:
        await finish_run(run_id, None, error.reasons, now=now)
        raise UserError("the demo cohorts cannot be planned: " + "; ".join(error.reasons)) from None
    await finish_run(run_id, plan, None, now=now)
    changes = await publish_run(run_id, now=now)
    await _set_passwords(imported.cohort_ids, designer_id)
    await _record_progress(imported.cohort_ids, now)
    await _email_outbox(now, base_url)

    for line in changes:
        out.write(line + "\n")
    _print_sign_ins(out, base_url)
    return 0


async def _email_outbox(now: datetime, base_url: str) -> None:
    """The emails publishing sends (enrolments, calendar invitations), rendered into the outbox the designer
    reads under Emails: the demo never sends mail, whatever CADENCE_SMTP_URL says. Later reminders reach the
    outbox from the worker (`make run` starts one) when they are due."""
    from dataclasses import replace

    from server.mailer import notify
    from server.settings import Settings

    settings = replace(Settings.from_env(), smtp_url="", base_url=base_url)
    await notify(now, settings, worker="cadence demo")


def _print_sign_ins(out, base_url: str) -> None:
    out.write(f"\nCadence demo: {base_url}\nSign in with password {DEMO_PASSWORD!r} (demo data only) as:\n")
    for role, email in SIGN_INS:
        out.write(f"  {role:<12} {email}\n")


async def _print_sign_ins_if_still_demo(out, base_url: str) -> None:
    """On later runs, show the sign-ins again, but only while the demo designer still has the demo password."""
    designer = await Person.select(Person.password_hash).where(Person.email == DESIGNER[0]).first()
    if designer and await anyio.to_thread.run_sync(verify_password, designer["password_hash"], DEMO_PASSWORD):
        _print_sign_ins(out, base_url)


async def _designer() -> int:
    email, name, zone = DESIGNER
    row = await Person.select(Person.id).where(Person.email == email).first()
    if row:
        await Person.update({Person.role: Person.Role.designer}).where(Person.id == row["id"])
        return row["id"]
    person = Person(email=email, name=name, role=Person.Role.designer, timezone=zone)
    await person.save()
    return person.id


async def _set_passwords(cohort_ids: list[int], designer_id: int) -> None:
    members = await Membership.select(Membership.person).where(Membership.cohort.is_in(cohort_ids))
    person_ids = sorted({m["person"] for m in members} | {designer_id})
    hashes = await anyio.to_thread.run_sync(lambda: [hash_password(DEMO_PASSWORD) for _ in person_ids])
    async with write_transaction():
        for person_id, password_hash in zip(person_ids, hashes, strict=True):
            await Person.update({Person.password_hash: password_hash}).where(Person.id == person_id)


async def _record_progress(cohort_ids: list[int], now: datetime) -> None:
    """A few modules done by a few learners (most by the demo learner), and one attendance mark."""
    learners = await Membership.select(
        Membership.cohort, Membership.person, Membership.person.email.as_alias("email")
    ).where(Membership.cohort.is_in(cohort_ids) & (Membership.role == Membership.Role.learner)).order_by(Membership.id)
    async with write_transaction():
        chosen = [row for index, row in enumerate(learners) if index % 3 == 0 or row["email"] == SIGN_INS[2][1]]
        for position, learner in enumerate(chosen):
            done = 3 if learner["email"] == SIGN_INS[2][1] else 1 + position % 2
            modules = await AsyncModule.select(AsyncModule.id).where(
                AsyncModule.cohort == learner["cohort"]
            ).order_by(AsyncModule.due_at, AsyncModule.key).limit(done)
            for module in modules:
                await ModuleCompletion(module=module["id"], person=learner["person"], completed_at=now).save()
                await record_change([Change(person=learner["person"], module=module["id"], from_state="",
                                            to_state=DONE)], source=AttendanceEvent.Source.manual.value,
                                    actor=learner["person"], now=now)
        sam = next((row for row in learners if row["email"] == SIGN_INS[2][1]), None)
        if sam is None:
            return
        first = await LiveSession.select(LiveSession.id, LiveSession.facilitator).where(
            (LiveSession.cohort == sam["cohort"]) & (LiveSession.status == LiveSession.Status.scheduled)
        ).order_by(LiveSession.starts_at).first()
        if first:
            await Attendance(session=first["id"], person=sam["person"], status=Attendance.Status.present,
                             marked_by=first["facilitator"], marked_at=now).save()
            await record_change([Change(person=sam["person"], session=first["id"], from_state="",
                                        to_state=Attendance.Status.present.value)],
                                source=AttendanceEvent.Source.manual.value, actor=first["facilitator"], now=now)
