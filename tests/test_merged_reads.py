"""The pages that read in a few joined statements (server/services/learner_page.py, session_page.py) show the
same values as the services that read one query at a time, in the edge cases: no cohort, a member who left,
cancelled sessions, materials on a session with two units, no feed token yet, an absent mark and feedback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import run

from models.tables import (
    Attendance,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    Program,
    SessionFeedback,
    SessionMaterial,
    SessionUnit,
    Unit,
)
from server.services import attendance, checkin, learning, materials
from server.services.feed_tokens import CURRENT_NONCE, feed_token_for, make_token
from server.services.learner_page import learner_page
from server.services.session_followup import learner_followup
from server.services.session_page import facilitator_session


async def _edge_world():
    world = await build_world()
    # a second unit on the past session: its materials come back once per unit from the join
    program = (await Program.select(Program.id).first())["id"]
    extra = (await Unit.insert(Unit(program=program, slug="extra", title="Extra", minutes=30, mode="live")))[0]["id"]
    await SessionUnit.insert(SessionUnit(session=world.past, unit=extra, minutes=30, position=1))
    await SessionMaterial.insert(
        SessionMaterial(session=world.past, kind="notes", title="Notes", text="**bold**", added_by=world.fay,
                        created_at=NOW - timedelta(days=1)),
        SessionMaterial(session=world.past, kind="link", title="Slides", url="https://example.com/s",
                        created_at=NOW - timedelta(days=2)))
    # Lea was absent from the past session; Leo rated it, then left the cohort
    await Attendance.insert(Attendance(session=world.past, person=world.lea, status="absent", marked_by=world.fay,
                                       marked_at=NOW))
    await SessionFeedback.insert(SessionFeedback(session=world.past, person=world.leo, rating=4, comment="ok",
                                                 created_at=NOW, updated_at=NOW))
    await ModuleCompletion.insert(ModuleCompletion(module=world.m_tour, person=world.lea, completed_at=NOW))
    await Membership.update({Membership.left_at: NOW}).where(
        (Membership.person == world.leo) & (Membership.cohort == world.alpha))
    # a cancelled session in Beta, and a learner in no cohort at all
    beta_section = (await LiveSession.select(LiveSession.section).where(LiveSession.id == world.beta_next).first())
    await LiveSession.insert(LiveSession(
        cohort=world.beta, section=beta_section["section"], key="beta-x", uid="beta-x@test",
        starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2), facilitator=world.finn,
        status="cancelled"))
    nobody = (await Person.insert(Person(email="nia@example.com", name="Nia", role="learner")))[0]["id"]
    return world, nobody


async def _one_at_a_time(person_id: int, now):
    schedule = await learning.learner_schedule(person_id, now=now)
    followup = await learner_followup(person_id, schedule.sessions, now=now)
    return schedule, followup, await checkin.open_windows(person_id, now=now)


def test_the_learner_page_reads_what_the_services_read(db):
    world, nobody = run(_edge_world())
    for person in (world.lea, world.leo, world.ben, nobody):
        # now, and when the next session's check-in window is open
        for now in (NOW, NOW + timedelta(days=2, minutes=1), NOW + timedelta(minutes=61)):
            page = run(learner_page(person, now=now))
            schedule, followup, open_now = run(_one_at_a_time(person, now))
            assert page.schedule == schedule, person
            assert page.followup == followup, person
            assert page.checkin_open == open_now, person
    lea = run(learner_page(world.lea, now=NOW))
    assert [m.title for m in lea.followup.materials[world.past]] == ["Slides", "Notes"]  # oldest first, once each
    assert lea.followup.missed and world.past not in lea.followup.rateable
    assert run(learner_page(world.lea, now=NOW + timedelta(days=2, minutes=1))).checkin_open


def test_the_learner_page_reads_the_current_feed_token(db):
    world, nobody = run(_edge_world())
    assert run(learner_page(world.lea, now=NOW)).feed_nonce is None  # none yet: feed_box issues one
    token = run(feed_token_for(world.lea, "k" * 40, now=NOW))
    nonce = run(learner_page(world.lea, now=NOW)).feed_nonce
    assert make_token("k" * 40, world.lea, nonce) == token
    run(feed_token_for(nobody, "k" * 40, now=NOW))
    assert run(learner_page(nobody, now=NOW)).feed_nonce is None  # no cohort, no row to carry it: read apart
    assert CURRENT_NONCE.startswith("SELECT nonce")


@pytest.mark.parametrize("query", ["", "lea"])
def test_the_session_page_reads_what_the_services_read(db, query):
    world, _ = run(_edge_world())
    for session in (world.past, world.next):
        found = run(facilitator_session(session, world.fay, designer=False, page=1, query=query))
        assert found.roster == run(attendance.session_roster(session, page=1, query=query))
        assert found.window == run(checkin.window_of(session))
        assert found.materials == run(materials.session_materials([session])).get(session, [])
    # Finn neither runs Alpha's sessions nor facilitates Alpha; a designer reaches every session
    assert run(facilitator_session(world.next, world.finn, designer=False, page=1, query="")) is None
    assert run(facilitator_session(world.next, world.designer, designer=True, page=1, query="")) is not None
    assert run(facilitator_session(world.next + 1000, world.designer, designer=True, page=1, query="")) is None
    assert run(facilitator_session(2**40, world.designer, designer=True, page=1, query="")) is None
    lea = next(r for r in run(facilitator_session(world.next, world.fay, designer=False, page=1, query="")).roster.rows
               if r.person_id == world.lea)
    assert (lea.prework_done, lea.prework_total) == (1, 2)
    past = run(facilitator_session(world.past, world.fay, designer=False, page=1, query="")).roster.rows
    assert [(r.name, r.attendance) for r in past] == [("Lea Learner", "absent")]  # Leo left
