"""The query functions behind the learner, facilitator and manager pages, on a real database."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from readiness_helpers import NOW, build_world

from models.tables import Attendance, LiveSession, Membership, ModuleCompletion, Person, Section
from server.services import attendance, learning, readiness

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(db):
    return await build_world()


async def test_learner_sees_own_sessions_modules_and_next_session(world):
    schedule = await learning.learner_schedule(world.lea, now=NOW)

    assert [s.id for s in schedule.sessions] == [world.past, world.next]
    assert schedule.next_session.id == world.next
    assert schedule.next_session.join_url == "https://meet.example.com/alpha-2"
    assert [m.title for m in schedule.next_session.prework] == ["Welcome", "Product tour"]
    assert [m.id for m in schedule.modules] == [world.m_welcome, world.m_tour, world.m_later]
    assert world.m_beta not in {m.id for m in schedule.modules}
    assert schedule.next_session.units == ("Kickoff",)


async def test_overdue_means_due_passed_and_not_done(world):
    schedule = await learning.learner_schedule(world.lea, now=NOW)
    assert {m.title: m.overdue for m in schedule.modules} == {
        "Welcome": True, "Product tour": False, "Later reading": False,
    }

    await learning.set_module_done(world.lea, world.m_welcome, True, now=NOW)

    schedule = await learning.learner_schedule(world.lea, now=NOW)
    welcome = next(m for m in schedule.modules if m.id == world.m_welcome)
    assert welcome.done and not welcome.overdue


async def test_mark_done_is_idempotent_and_undo_removes_it(world):
    first = await learning.set_module_done(world.lea, world.m_tour, True, now=NOW)
    again = await learning.set_module_done(world.lea, world.m_tour, True, now=NOW + timedelta(minutes=5))

    assert first.done and again.done
    assert await ModuleCompletion.count().where(ModuleCompletion.person == world.lea) == 1
    progress = await learning.learner_progress(world.lea, now=NOW)
    assert (progress.done_modules, progress.total_modules) == (1, 3)
    assert (progress.done_minutes, progress.total_minutes) == (15, 30)
    assert progress.percent == 50

    undone = await learning.set_module_done(world.lea, world.m_tour, False, now=NOW)

    assert not undone.done
    assert await ModuleCompletion.count().where(ModuleCompletion.person == world.lea) == 0
    assert (await learning.learner_progress(world.lea, now=NOW)).done_modules == 0


async def test_learner_cannot_touch_another_cohorts_module(world):
    assert await learning.learner_module(world.lea, world.m_beta, now=NOW) is None
    assert await learning.set_module_done(world.lea, world.m_beta, True, now=NOW) is None
    assert await ModuleCompletion.count() == 0


async def test_prework_complete_and_missing_per_report(world):
    await learning.set_module_done(world.lea, world.m_welcome, True, now=NOW)
    await learning.set_module_done(world.lea, world.m_tour, True, now=NOW)
    await learning.set_module_done(world.leo, world.m_tour, True, now=NOW)

    view = await readiness.manager_readiness(world.mia, now=NOW)

    assert [item.session.id for item in view.sessions] == [world.next]  # the past session is not upcoming
    item = view.sessions[0]
    assert item.prework_titles == ("Welcome", "Product tour")
    assert {learner.name: learner.missing for learner in item.learners} == {
        "Lea Learner": (), "Leo Learner": ("Welcome",),
    }
    assert (item.ready_count, len(item.learners), item.percent_ready) == (1, 2, 50)
    assert [learner.name for learner in item.not_ready] == ["Leo Learner"]


async def test_manager_sees_only_cohorts_holding_their_reports(world):
    mia = await readiness.manager_readiness(world.mia, now=NOW)
    max_ = await readiness.manager_readiness(world.max, now=NOW)

    assert [c.cohort_name for c in mia.cohorts] == ["Alpha"]
    assert {learner.email for s in mia.sessions for learner in s.learners} == {"lea@example.com", "leo@example.com"}
    assert [c.cohort_name for c in max_.cohorts] == ["Beta"]
    assert [s.session.id for s in max_.sessions] == [world.beta_next]
    assert [learner.email for learner in max_.sessions[0].learners] == ["ben@example.com"]

    nobody = await readiness.manager_readiness(world.fay, now=NOW)
    assert nobody.sessions == () and nobody.cohorts == ()


async def test_cohort_completion_and_attendance_rates(world):
    await learning.set_module_done(world.lea, world.m_welcome, True, now=NOW)  # due: done
    await learning.set_module_done(world.leo, world.m_later, True, now=NOW)  # not due yet: done
    await attendance.mark_attendance(world.past, world.lea, "late", marked_by=world.fay, now=NOW)
    await attendance.mark_attendance(world.past, world.leo, "absent", marked_by=world.fay, now=NOW)
    await attendance.mark_attendance(world.next, world.leo, "excused", marked_by=world.fay, now=NOW)  # not started

    rates = (await readiness.manager_readiness(world.mia, now=NOW)).cohorts[0]

    assert (rates.reports, rates.due_so_far, rates.done_of_due, rates.completion_percent) == (2, 2, 1, 50)
    assert (rates.total, rates.done_total) == (6, 2)
    assert (rates.attendance_marked, rates.attended, rates.attendance_percent) == (2, 1, 50)


async def test_rates_without_data_are_none_not_zero(world):
    rates = (await readiness.manager_readiness(world.max, now=NOW - timedelta(days=30))).cohorts[0]
    assert rates.completion_percent is None
    assert rates.attendance_percent is None
    assert rates.overall_percent == 0


async def test_readiness_csv(world):
    await learning.set_module_done(world.leo, world.m_welcome, True, now=NOW)

    text = readiness.readiness_csv(await readiness.manager_readiness(world.mia, now=NOW))

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(readiness.CSV_COLUMNS)
    assert rows[1:] == [
        ["Alpha (section a)", "2027-03-12T12:00:00Z", "Lea Learner", "lea@example.com", "no", "Welcome; Product tour"],
        ["Alpha (section a)", "2027-03-12T12:00:00Z", "Leo Learner", "leo@example.com", "no", "Product tour"],
    ]


async def test_facilitator_sees_sessions_of_cohorts_they_run(world):
    fay = await attendance.facilitator_sessions(world.fay, now=NOW)
    finn = await attendance.facilitator_sessions(world.finn, now=NOW)
    everyone = await attendance.facilitator_sessions(None, now=NOW)

    assert [s.id for s in fay] == [world.next]
    assert [s.id for s in finn] == [world.beta_next]
    assert [s.id for s in everyone] == [world.next, world.beta_next]
    assert await attendance.may_run_session(world.fay, world.next)
    assert not await attendance.may_run_session(world.fay, world.beta_next)
    assert not await attendance.may_run_session(world.lea, world.next)
    assert not await attendance.may_run_session(world.fay, 999_999)


async def test_roster_shows_prework_and_attendance(world):
    await learning.set_module_done(world.leo, world.m_tour, True, now=NOW)

    roster = await attendance.session_roster(world.next)

    assert [(r.name, r.timezone, r.prework_done, r.prework_total, r.attendance) for r in roster.rows] == [
        ("Lea Learner", "America/New_York", 0, 2, None),
        ("Leo Learner", "Asia/Tokyo", 1, 2, None),
    ]
    assert await attendance.session_roster(999_999) is None


async def test_mark_attendance_upserts_one_row_with_who_and_when(world):
    first = await attendance.mark_attendance(world.next, world.lea, "present", marked_by=world.fay, now=NOW)
    later = NOW + timedelta(minutes=10)
    second = await attendance.mark_attendance(world.next, world.lea, "late", marked_by=world.designer, now=later)

    assert first.attendance == "present" and first.marked_by_name == "Fay Facilitator"
    assert second.attendance == "late" and second.marked_by_name == "Dee Designer"
    rows = await Attendance.select().where(Attendance.session == world.next)
    assert len(rows) == 1
    assert rows[0]["status"] == "late" and rows[0]["marked_by"] == world.designer
    assert rows[0]["marked_at"] == later


async def test_mark_attendance_refuses_outsiders_and_unknown_status(world):
    assert await attendance.mark_attendance(world.next, world.ben, "present", marked_by=world.fay, now=NOW) is None
    with pytest.raises(ValueError, match="status"):
        await attendance.mark_attendance(world.next, world.lea, "asleep", marked_by=world.fay, now=NOW)
    assert await Attendance.count() == 0


async def test_naive_now_is_refused(world):
    with pytest.raises(ValueError, match="naive"):
        await learning.learner_schedule(world.lea, now=NOW.replace(tzinfo=None))


async def test_manager_sees_only_sessions_of_sections_holding_reports(world):
    """Alpha gains a section b with learner Kim (reporting to Max) and its own session: Mia does not see
    it (none of her reports is in b), Max sees it with Kim alone, and Lea's schedule does not list it."""
    alpha_b = Section(cohort=world.alpha, key="alpha/b")
    await alpha_b.save()
    kim = Person(email="kim@example.com", name="Kim", role="learner", timezone="Asia/Seoul")
    await kim.save()
    await Membership(cohort=world.alpha, person=kim.id, role="learner", section=alpha_b.id, manager=world.max).save()
    other = LiveSession(
        cohort=world.alpha, section=alpha_b.id, key="alpha-b-1", uid="alpha-b-1@test", facilitator=world.fay,
        starts_at=NOW + timedelta(days=4), ends_at=NOW + timedelta(days=4, hours=1),
    )
    await other.save()

    mia = await readiness.manager_readiness(world.mia, now=NOW)
    max_ = await readiness.manager_readiness(world.max, now=NOW)
    lea = await learning.learner_schedule(world.lea, now=NOW)

    assert [s.session.id for s in mia.sessions] == [world.next]
    assert [(s.session.id, [x.name for x in s.learners]) for s in max_.sessions] == [
        (world.beta_next, ["Ben Beta"]), (other.id, ["Kim"]),
    ]
    assert [c.cohort_name for c in max_.cohorts] == ["Alpha", "Beta"]
    assert other.id not in [s.id for s in lea.sessions]
    roster = await attendance.session_roster(other.id)
    assert [r.name for r in roster.rows] == ["Kim"]
