"""Pages run a constant number of queries as a cohort grows: every signed-in page is counted for a cohort of
10 and of 200 learners (each with completions and attendance), and the counts must be the same."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, run, sign_in, web_client

from models.tables import (
    Answer,
    Attendance,
    AttendanceEvent,
    Membership,
    ModuleCompletion,
    Person,
    Program,
    Question,
    Section,
    SessionFeedback,
    SessionMaterial,
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
    values = dict(vars(world))
    values["lea_in_alpha"] = (await Membership.select(Membership.id).where(
        (Membership.person == world.lea) & (Membership.cohort == world.alpha)).first())["id"]
    # a run and a comparison (one variant) that hold Alpha's published plan, for the plan views
    plan = await published_plan([world.alpha])
    values["run"] = await create_run((await Program.select(Program.id).first())["id"], ["Alpha"], world.designer, 5,
                                     now=NOW)
    await finish_run(values["run"], plan, None, now=NOW)
    values["comparison"], (variant_run,) = await create_comparison(
        (await Program.select(Program.id).first())["id"], ["Alpha"], [Variant(sections=2)], world.designer, 5,
        now=NOW)
    await finish_run(variant_run, plan, None, now=NOW)
    values["program"] = (await Program.select(Program.id).first())["id"]
    values["unit"] = (await Unit.select(Unit.id).first())["id"]
    return values


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
