"""Publishing plans into the database and reading them back: stable UIDs, SEQUENCE bumps, cancellations,
and the re-planning problem (fixed sessions, previous plan, facilitators busy elsewhere)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from planner_helpers import cohort, facilitator, member, problem, program, unit

from models.tables import (
    AsyncModule,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    Section,
    SessionUnit,
)
from planner.coverage import cohort_window
from planner.plan import CohortPlan, Module, Plan, Portion, Session, Status
from planner.plan import Section as PlanSection
from planner.problem import FixedSession
from server.errors import UserError
from server.services.importing import import_problem
from server.services.planning import problem_from_db
from server.services.published_plan import published_plan
from server.services.publishing import publish_plan

T0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)
NOW = datetime(2027, 2, 1, tzinfo=UTC)


def tiny_problem(*extra_cohorts):
    return problem(
        program(unit("intro", 60, "live"), unit("reading", 15, "async")),
        cohort("C1", [facilitator("f@x.org"), member("a@x.org"), member("b@x.org")]),
        *extra_cohorts,
    )


def session(key: str, start: datetime, section: str = "c1/a", facilitator: str = "f@x.org", prework=()) -> Session:
    return Session(id=key, section=section, start=start, end=start + HOUR, facilitator=facilitator,
                   units=(Portion("intro", 30), Portion("intro", 30)), prework=tuple(prework))


def tiny_plan(*sessions: Session, modules=None, name: str = "C1", learners=("a@x.org", "b@x.org")) -> Plan:
    if modules is None:
        modules = (Module("c1/m1", "reading", 15, T0 - 72 * HOUR, T0 - 24 * HOUR),)
    if not sessions:
        sessions = (session("c1/a/1", T0, prework=["c1/m1"]), session("c1/a/2", T0 + 48 * HOUR))
    section = sessions[0].section
    return Plan(Status.OPTIMAL, 0, 0, 1.0, (CohortPlan(name, (PlanSection(section, tuple(learners)),),
                                                      tuple(sessions), tuple(modules)),))


async def session_rows(cohort_id: int) -> dict[str, dict]:
    rows = await LiveSession.select().where(LiveSession.cohort == cohort_id)
    return {row["key"]: row for row in rows}


@pytest.mark.anyio
async def test_first_publish_creates_sections_sessions_and_modules(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    changes = await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW)

    assert changes == ["C1: published 2 live sessions in 1 section and 1 modules"]
    cohort_row = await Cohort.select().where(Cohort.id == imported.cohort_ids[0]).first()
    assert cohort_row["status"] == Cohort.Status.published and cohort_row["published_at"] == NOW
    assert await Section.count().where(Section.cohort == imported.cohort_ids[0]) == 1
    sessions = await session_rows(imported.cohort_ids[0])
    assert sorted(sessions) == ["c1/a/1", "c1/a/2"]
    assert all(row["uid"].startswith("session-") and row["uid"].endswith("@cadence") for row in sessions.values())
    assert {row["sequence"] for row in sessions.values()} == {0}
    assert sessions["c1/a/1"]["starts_at"] == T0
    assert await SessionUnit.count().where(SessionUnit.session == sessions["c1/a/1"]["id"]) == 2
    assert await AsyncModule.count().where(AsyncModule.cohort == imported.cohort_ids[0]) == 1
    sectioned = await Membership.select(Membership.person.email.as_alias("email")).where(
        Membership.section.is_not_null()
    )
    assert sorted(r["email"] for r in sectioned) == ["a@x.org", "b@x.org"]

    rebuilt = await published_plan(imported.cohort_ids)
    assert rebuilt.cohorts == tiny_plan().cohorts


@pytest.mark.anyio
async def test_republishing_the_same_plan_changes_nothing(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW)
    before = await session_rows(imported.cohort_ids[0])
    modules_before = await AsyncModule.select(AsyncModule.uid, AsyncModule.sequence)

    changes = await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW + HOUR)

    assert changes == ["C1: nothing changed"]
    after = await session_rows(imported.cohort_ids[0])
    for key in before:
        assert (after[key]["uid"], after[key]["sequence"], after[key]["updated_at"]) == (
            before[key]["uid"], before[key]["sequence"], before[key]["updated_at"])
    assert await AsyncModule.select(AsyncModule.uid, AsyncModule.sequence) == modules_before


@pytest.mark.anyio
async def test_moving_a_session_bumps_its_sequence_and_keeps_its_uid(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW)
    before = await session_rows(imported.cohort_ids[0])

    moved = tiny_plan(session("c1/a/1", T0, prework=["c1/m1"]), session("c1/a/2", T0 + 49 * HOUR))
    later = NOW + timedelta(days=1)
    changes = await publish_plan(moved, imported.cohort_ids, now=later)

    assert changes == ["C1: session c1/a/2 moved from 2027-03-03 10:00 UTC to 2027-03-03 11:00 UTC"]
    after = await session_rows(imported.cohort_ids[0])
    assert after["c1/a/2"]["uid"] == before["c1/a/2"]["uid"]
    assert after["c1/a/2"]["sequence"] == 1 and after["c1/a/2"]["updated_at"] == later
    assert after["c1/a/2"]["starts_at"] == T0 + 49 * HOUR
    assert after["c1/a/1"]["sequence"] == 0


@pytest.mark.anyio
async def test_dropping_a_session_cancels_it_and_bringing_it_back_schedules_it(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW)
    uid = (await session_rows(imported.cohort_ids[0]))["c1/a/2"]["uid"]

    shorter = tiny_plan(session("c1/a/1", T0, prework=["c1/m1"]))
    changes = await publish_plan(shorter, imported.cohort_ids, now=NOW + HOUR)

    assert changes == ["C1: session c1/a/2 on 2027-03-03 10:00 UTC cancelled"]
    dropped = (await session_rows(imported.cohort_ids[0]))["c1/a/2"]
    assert dropped["status"] == LiveSession.Status.cancelled
    assert dropped["cancelled_at"] == NOW + HOUR and dropped["sequence"] == 1 and dropped["uid"] == uid
    rebuilt = await published_plan(imported.cohort_ids)
    assert [s.id for s in rebuilt.cohorts[0].sessions] == ["c1/a/1"]

    changes = await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW + 2 * HOUR)
    back = (await session_rows(imported.cohort_ids[0]))["c1/a/2"]
    assert back["status"] == LiveSession.Status.scheduled and back["cancelled_at"] is None
    assert back["sequence"] == 2 and back["uid"] == uid
    assert changes == ["C1: session c1/a/2 is back on 2027-03-03 10:00 UTC"]


@pytest.mark.anyio
async def test_a_removed_module_with_a_completion_is_kept_and_one_without_is_deleted(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    two = (Module("c1/m1", "reading", 8, T0 - 72 * HOUR, T0 - 24 * HOUR),
           Module("c1/m2", "reading", 7, T0 - 72 * HOUR, T0 - 24 * HOUR))
    await publish_plan(tiny_plan(modules=two), imported.cohort_ids, now=NOW)
    m1 = await AsyncModule.select().where(AsyncModule.key == "c1/m1").first()
    assert m1["title"] == "Reading (part 1 of 2)"
    learner = await Person.select(Person.id).where(Person.email == "a@x.org").first()
    await ModuleCompletion(module=m1["id"], person=learner["id"], completed_at=NOW).save()

    await publish_plan(tiny_plan(modules=()), imported.cohort_ids, now=NOW + HOUR)

    assert [m["key"] for m in await AsyncModule.select(AsyncModule.key)] == ["c1/m1"]


@pytest.mark.anyio
async def test_replanning_problem_fixes_held_sessions_and_carries_the_previous_plan(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    await publish_plan(tiny_plan(), imported.cohort_ids, now=NOW)

    between = T0 + 30 * 60 * timedelta(seconds=1)  # the first session is under way
    replan = await problem_from_db(imported.cohort_ids, now=between)

    assert replan.fixed == (FixedSession(cohort="C1", session_id="c1/a/1"),)
    assert replan.previous is not None and replan.previous.cohorts == tiny_plan().cohorts
    # The past is busy for the facilitator, except the session under way, which keeps its place.
    held = replan.previous.cohorts[0].sessions[0]
    window_start = cohort_window(replan.cohorts[0])[0]
    assert [(b.email, b.start, b.end, b.reason) for b in replan.busy] == [
        ("f@x.org", window_start, held.start, "already past"),  # then the held session keeps its place
    ]
    before = await problem_from_db(imported.cohort_ids, now=NOW)
    assert before.fixed == () and before.busy == ()


@pytest.mark.anyio
async def test_a_replan_never_moves_a_session_into_the_past(db):
    from planner.solve import solve
    from planner.validate import validate_plan

    three_sessions = problem(program(unit("intro", 180, "live")),
                             cohort("C1", [facilitator("f@x.org"), member("a@x.org"), member("b@x.org")]))
    imported = await import_problem(three_sessions, now=NOW)
    first_plan = solve(await problem_from_db(imported.cohort_ids, now=NOW), time_limit=3)
    await publish_plan(first_plan, imported.cohort_ids, now=NOW)
    held = first_plan.cohorts[0].sessions[0]

    between = held.start + timedelta(minutes=30)  # the first session is under way
    replan = await problem_from_db(imported.cohort_ids, now=between)
    plan = solve(replan, time_limit=3)

    assert validate_plan(replan, plan) == []
    sessions = {s.id: s for s in plan.cohorts[0].sessions}
    assert sessions[held.id] == held
    assert all(s.start >= between for key, s in sessions.items() if key != held.id)


@pytest.mark.anyio
async def test_problem_from_db_round_trips_the_imported_problem(db):
    original = tiny_problem()
    imported = await import_problem(original, now=NOW)
    rebuilt = await problem_from_db(imported.cohort_ids, now=NOW)
    assert rebuilt.program == original.program
    assert rebuilt.cohorts == original.cohorts
    assert rebuilt.previous is None and rebuilt.fixed == () and rebuilt.busy == ()


@pytest.mark.anyio
async def test_sessions_of_another_published_cohort_make_its_facilitator_busy(db):
    other = cohort("C2", [facilitator("f@x.org"), member("c@x.org")])
    imported = await import_problem(tiny_problem(other), now=NOW)
    c1, c2 = imported.cohort_ids
    theirs = tiny_plan(session("c2/a/1", T0 + 2 * HOUR, section="c2/a"), modules=(), name="C2",
                       learners=("c@x.org",))
    await publish_plan(theirs, [c2], now=NOW)

    mine = await problem_from_db([c1], now=NOW)

    assert [(b.email, b.start, b.end) for b in mine.busy] == [("f@x.org", T0 + 2 * HOUR, T0 + 3 * HOUR)]
    assert (await problem_from_db([c1, c2], now=NOW)).busy == ()


@pytest.mark.anyio
async def test_cohorts_of_different_programs_cannot_be_planned_together(db):
    first = await import_problem(tiny_problem(), now=NOW)
    second = await import_problem(problem(program(unit("x", 60), id="other", name="Other"),
                                          cohort("C9", [facilitator("g@x.org"), member("z@x.org")])), now=NOW)
    with pytest.raises(UserError, match="different programs"):
        await problem_from_db(first.cohort_ids + second.cohort_ids, now=NOW)


@pytest.mark.anyio
async def test_a_plan_for_other_cohorts_is_refused_and_nothing_is_written(db):
    imported = await import_problem(tiny_problem(), now=NOW)
    with pytest.raises(UserError, match="this plan is for"):
        await publish_plan(replace(tiny_plan(), cohorts=(replace(tiny_plan().cohorts[0], name="Elsewhere"),)),
                           imported.cohort_ids, now=NOW)
    assert await LiveSession.count() == 0
    assert (await Cohort.select(Cohort.status).first())["status"] == Cohort.Status.draft


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_real_replan_after_a_learner_joins_keeps_the_held_session(db):
    from planner.solve import solve

    original = problem(
        program(unit("intro", 60, "live"), unit("reading", 15, "async"), unit("practice", 90, "live", requires=["intro"])),
        cohort("C1", [facilitator("f@x.org"), member("a@x.org"), member("b@x.org", tz="America/New_York")]),
    )
    imported = await import_problem(original, now=NOW)
    first_plan = solve(await problem_from_db(imported.cohort_ids, now=NOW), time_limit=3)
    await publish_plan(first_plan, imported.cohort_ids, now=NOW)
    held = first_plan.cohorts[0].sessions[0]
    before = (await session_rows(imported.cohort_ids[0]))[held.id]

    newcomer = Person(email="c@x.org", name="Chidi", timezone="Europe/Berlin")
    await newcomer.save()
    await Membership(cohort=imported.cohort_ids[0], person=newcomer.id, role="learner").save()
    during = held.start + timedelta(minutes=10)
    replan = await problem_from_db(imported.cohort_ids, now=during)
    assert replan.fixed == (FixedSession("C1", held.id),)
    second_plan = solve(replan, time_limit=3)
    changes = await publish_plan(second_plan, imported.cohort_ids, now=during)

    after = (await session_rows(imported.cohort_ids[0]))[held.id]
    assert (after["uid"], after["sequence"], after["starts_at"], after["status"]) == (
        before["uid"], 0, held.start, "scheduled")
    sectioned = await Membership.select(Membership.section).where(Membership.person == newcomer.id).first()
    assert sectioned["section"] is not None
    assert all(held.id not in line for line in changes)
    assert changes, "a re-publish always says what changed, or that nothing did"


def test_a_person_row_with_unreadable_hours_is_reported_not_guessed():
    from server.services.planning import planner_person

    row = {"email": "x@example.org", "name": "X", "timezone": "Asia/Riyadh",
           "work_start": "09:00", "work_end": "17:00", "work_days": "Sun-Thu"}
    assert planner_person(row).hours.days == frozenset({6, 0, 1, 2, 3})
    with pytest.raises(UserError, match="x@example.org: working hours"):
        planner_person({**row, "work_end": "08:00"})
