"""Pages run a constant number of queries as the data grows: every signed-in page is counted for a cohort of
10 and of 200 learners (each with completions and attendance), and beside it 1 and then 5 more programs, each
with a published cohort (its section, sessions, prework) that Lea learns in, Fay facilitates and Mia manages
reports in; the counts must be the same, so no page runs a query per learner, cohort, program or report."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, run, sign_in, web_client

from models.tables import (
    Answer,
    AsyncModule,
    Attendance,
    AttendanceEvent,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    Program,
    Question,
    Section,
    SessionFeedback,
    SessionMaterial,
    SessionPrework,
    SessionUnit,
    Unit,
)
from server.passwords import hash_password
from server.services.planner_runs import create_run, finish_run
from server.services.published_plan import published_plan
from server.services.variants import Variant, create_comparison

PAGES = {  # role -> paths ({...} from the world)
    "designer": ["/", "/programs", "/programs/{program}", "/programs/{program}/units/{unit}", "/cohorts", "/cohorts/{alpha}", "/people",
                 "/cohorts/{alpha}/members/{lea_in_alpha}", "/cohorts/{alpha}/roster-update",
                 "/cohorts/{alpha}/calendar", "/cohorts/{alpha}/heatmap", "/plans/{run}", "/plans/{run}/calendar",
                 "/plans/{run}/heatmap", "/plans/variants?cohort={alpha}", "/plans/variants/{comparison}",
                 "/profile", "/profile/feed", "/facilitator/sessions/{next}",
                 "/facilitator/learners/{lea}", "/feedback", "/feedback/feedback.csv",
                 "/board/{alpha}", "/outbox", "/preferences"],
    "fay@example.com": ["/facilitator", "/facilitator/sessions/{next}", "/facilitator/sessions/{past}",
                        "/profile", "/facilitator/sessions/{next}/checkin", "/facilitator/sessions/{next}/import",
                        "/facilitator/learners/{lea}", "/facilitator/learners/{lea}/trail.csv", "/board/{alpha}"],
    "lea@example.com": ["/learner", "/profile", "/learner/checkin", "/learner/sessions/{past}", "/board/{alpha}", "/preferences"],
    "mia@example.com": ["/manager", "/manager/readiness.csv", "/manager/sessions/{next}"],
}


async def _world(learners: int) -> dict[str, int]:
    from models.migrate import delete_all_rows

    await delete_all_rows()
    world = await build_world(password_hash=hash_password(PASSWORD))
    section = (await Section.select(Section.id).where(Section.cohort == world.alpha).first())["id"]
    people = [Person(email=f"crowd{i}@example.com", name=f"Crowd {i}", role="learner", timezone="Asia/Kolkata")
              for i in range(learners - 2)]
    if people:
        await Person.insert(*people)
    ids = [row["id"] for row in await Person.select(Person.id).where(Person.email.like("crowd%"))]
    if ids:
        await Membership.insert(*[Membership(cohort=world.alpha, person=pid, role="learner", section=section,
                                             manager=world.mia) for pid in ids])
        await ModuleCompletion.insert(*[ModuleCompletion(module=world.m_welcome, person=pid, completed_at=NOW)
                                        for pid in ids[::2]])
        await Attendance.insert(*[Attendance(session=world.past, person=pid, status="present",
                                             marked_by=world.fay, marked_at=NOW) for pid in ids[::3]])
        # a fifth of the crowd left the cohort: the roster shows them as former members with their history
        await Membership.update({Membership.left_at: NOW, Membership.left_by: world.designer,
                                 Membership.left_reason: "left the company"}).where(
            Membership.person.is_in(ids[::5]) & (Membership.cohort == world.alpha))
        # check-ins the facilitator's box lists, and a trail for each (the record pages read them)
        await AttendanceEvent.insert(*[AttendanceEvent(kind="attendance", session=world.next, person=pid, to_state="present",
                                                       source="checkin", actor=pid, at=NOW) for pid in ids[::2]])
        # after the session: everyone's feedback, a question from every third learner with an answer each
        await SessionFeedback.insert(*[SessionFeedback(session=world.past, person=pid, rating=1 + pid % 5,
                                                       comment=f"c{pid}", created_at=NOW, updated_at=NOW) for pid in ids])
        await Question.insert(*[Question(cohort=world.alpha, author=pid, title=f"Q{pid}", body="**b**",
                                         module=world.m_tour, created_at=NOW) for pid in ids[::3]])
        questions = [row["id"] for row in await Question.select(Question.id)]
        await Answer.insert(*[Answer(question=q, author=world.fay, body="a", created_at=NOW) for q in questions])
    await AttendanceEvent.insert(*[AttendanceEvent(kind="completion", module=world.m_welcome, person=world.lea,
                                                   from_state="" if i % 2 == 0 else "done",
                                                   to_state="done" if i % 2 == 0 else "", source="manual",
                                                   actor=world.lea, at=NOW) for i in range(learners // 10)])
    await SessionMaterial.insert(*[SessionMaterial(session=world.past, kind="notes", title=f"M{i}", text="t")
                                   for i in range(max(1, learners // 20))])
    for n in range(1 + learners // 50):
        await _another_program(world, n, ids[: learners // 10])
    values = dict(vars(world))
    values["lea_in_alpha"] = (await Membership.select(Membership.id).where(
        (Membership.person == world.lea) & (Membership.cohort == world.alpha)).first())["id"]
    # a run and a comparison (one variant) that hold Alpha's published plan, for the plan views
    plan = await published_plan([world.alpha])
    values["program"] = (await Program.select(Program.id).where(Program.slug == "p").first())["id"]
    values["run"] = await create_run(values["program"], ["Alpha"], world.designer, 5, now=NOW)
    await finish_run(values["run"], plan, None, now=NOW)
    values["comparison"], (variant_run,) = await create_comparison(
        values["program"], ["Alpha"], [Variant(sections=2)], world.designer, 5, now=NOW)
    await finish_run(variant_run, plan, None, now=NOW)
    values["unit"] = (await Unit.select(Unit.id).where(Unit.program == values["program"]).first())["id"]
    return values


async def _another_program(world, n: int, crowd: list[int]) -> None:
    """A program of its own with a published cohort: a section, a past and a coming session (Fay runs them),
    prework, a module done by some; Lea and `crowd` learn in it, reporting to Mia; Fay facilitates it."""
    program = (await Program.insert(Program(slug=f"extra-{n}", name=f"Extra program {n}")))[0]["id"]
    units = [row["id"] for row in await Unit.insert(
        Unit(program=program, slug=f"read-{n}", title=f"Reading {n}", minutes=10, mode="async"),
        Unit(program=program, slug=f"talk-{n}", title=f"Talk {n}", minutes=60, mode="live"))]
    cohort = (await Cohort.insert(Cohort(program=program, name=f"Extra {n}", start_date=date(2027, 3, 1), weeks=4,
                                         status="published")))[0]["id"]
    section = (await Section.insert(Section(cohort=cohort, key=f"extra-{n}/a")))[0]["id"]
    await Membership.insert(
        Membership(cohort=cohort, person=world.fay, role="facilitator"),
        Membership(cohort=cohort, person=world.mia, role="manager"),
        *[Membership(cohort=cohort, person=pid, role="learner", section=section, manager=world.mia)
          for pid in [world.lea, *crowd]])
    module = (await AsyncModule.insert(AsyncModule(
        cohort=cohort, unit=units[0], key=f"extra-{n}-read", uid=f"extra-{n}-read@test", title=f"Reading {n}",
        minutes=10, release_at=NOW - timedelta(days=7), due_at=NOW + timedelta(days=1))))[0]["id"]
    sessions = [row["id"] for row in await LiveSession.insert(*[LiveSession(
        cohort=cohort, section=section, key=f"extra-{n}-{i}", uid=f"extra-{n}-{i}@test", starts_at=NOW + start,
        ends_at=NOW + start + timedelta(hours=1), facilitator=world.fay, join_url=f"https://meet.example.com/x{n}{i}")
        for i, start in enumerate((timedelta(days=-1, hours=n), timedelta(days=2, hours=n)))])]
    await SessionUnit.insert(*[SessionUnit(session=sid, unit=units[1], minutes=60, position=0) for sid in sessions])
    await SessionPrework.insert(SessionPrework(session=sessions[1], module=module))
    await ModuleCompletion.insert(*[ModuleCompletion(module=module, person=pid, completed_at=NOW)
                                    for pid in [world.lea, *crowd[::2]]])
    await Attendance.insert(*[Attendance(session=sessions[0], person=pid, status="present", marked_by=world.fay,
                                         marked_at=NOW) for pid in [world.lea, *crowd[::3]]])


@contextmanager
def counting(engine):
    """Count the queries the engine runs (the app's handlers run in another thread; the engine has slots, so
    its class is patched)."""
    counter = {"n": 0}
    kind = type(engine)
    original = kind.run_querystring

    async def run_querystring(self, *args, **kwargs):
        counter["n"] += 1
        return await original(self, *args, **kwargs)

    kind.run_querystring = run_querystring
    try:
        yield counter
    finally:
        kind.run_querystring = original


def _counts(world: dict[str, int]) -> dict[str, int]:
    engine = Person._meta.db
    counts = {}
    for who, paths in PAGES.items():
        email = "dee@example.com" if who == "designer" else who
        with web_client(now=NOW) as client:
            assert sign_in(client, email).status_code == 303
            for path in paths:
                url = path.format(**world)
                client.get(url)  # warm: a first visit may create the feed token
                with counting(engine) as counter:
                    response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                counts[f"{email} {path}"] = counter["n"]
    return counts


def test_pages_run_the_same_number_of_queries_for_10_and_200_learners(db):
    small = _counts(run(_world(10)))
    large = _counts(run(_world(200)))
    grows = {page: (small[page], large[page]) for page in small if small[page] != large[page]}
    assert not grows, f"queries (10 learners, 200 learners) per page: {grows}"


@pytest.mark.parametrize("learners", [10])
def test_the_count_sees_the_queries(db, learners):
    counts = _counts(run(_world(learners)))
    assert all(n > 0 for n in counts.values()), counts
