"""The cohort lifecycle on the real database: a learner moved across sections (feed events, readiness and the
facilitator's roster follow; the old section's events stay CANCELLED for 30 days), a member removed (history
kept, ignored by readiness, rosters, the planner input, the learner's pages and the feed), a transfer to a
later cohort (modules done carry over), and the audit of each change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feed_helpers import COHORT_NAME, seed_feed_world, session_uid
from icalendar import Calendar
from readiness_helpers import NOW as WORLD_NOW
from readiness_helpers import build_world
from web_helpers import run

from models.tables import Cohort, LiveSession, Membership, ModuleCompletion, Person, RosterChange, Section
from server.errors import UserError
from server.services import cohorts, lifecycle
from server.services.attendance import session_roster
from server.services.feed_content import CANCELLED_VISIBLE
from server.services.feeds import build_feed
from server.services.learning import learner_schedule
from server.services.planning import problem_from_db
from server.services.readiness import manager_readiness

NOW = datetime(2027, 3, 5, 12, 0, tzinfo=UTC)  # before every session of the feed world
PUBLISHED = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
BASE = "https://cadence.test"


async def _designer() -> int:
    rows = await Person.insert(Person(email="dee@example.com", name="Dee Designer", role="designer")).returning(
        Person.id)
    return rows[0]["id"]


async def _membership(cohort_id: int, person_id: int) -> int:
    row = await Membership.select(Membership.id).where(
        (Membership.cohort == cohort_id) & (Membership.person == person_id)).first()
    return row["id"]


async def _section(key: str) -> int:
    return (await Section.select(Section.id).where(Section.key == key).first())["id"]


async def _events(person_id: int, now: datetime) -> dict[str, dict]:
    """uid -> {status, sequence, summary} of the person's feed as a calendar client reads it."""
    person = await Person.select().where(Person.id == person_id).first()
    built = await build_feed(person, now=now, base_url=BASE)
    calendar = Calendar.from_ical(built.body)
    return {str(e["UID"]): {"status": str(e.get("STATUS", "")), "sequence": int(e.get("SEQUENCE", 0)),
                            "summary": str(e["SUMMARY"])} for e in calendar.walk("VEVENT")}


async def _changes(person_id: int) -> list[dict]:
    return await RosterChange.select().where(RosterChange.person == person_id).order_by(RosterChange.id)


# ------------------------------------------------------------------------------------ moving across sections


def test_a_learner_moved_across_sections_takes_feed_readiness_and_roster_along(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        nia, mo = world.people["nia"], world.people["mo"]
        before = await _events(nia, NOW)
        words = await lifecycle.move_learner(world.cohort, await _membership(world.cohort, nia),
                                             await _section("support/b"), actor=designer, now=NOW)
        after = await _events(nia, NOW)
        readiness = await manager_readiness(mo, now=NOW)
        roster_a = await session_roster(world.sessions["a-1"])
        roster_b = await session_roster(world.sessions["b-1"])
        later = await _events(nia, NOW + CANCELLED_VISIBLE + timedelta(days=1))
        person = await Person.select().where(Person.id == nia).first()
        built = await build_feed(person, now=NOW, base_url=BASE)
        return world, words, before, after, readiness, roster_a, roster_b, later, built, await _changes(nia)

    world, words, before, after, readiness, roster_a, roster_b, later, built, changes = run(scenario())
    assert words == "Moved Nia Brooks from section a to section b"
    a_uids = [session_uid(k) for k in ("a-1", "a-2", "a-3")]
    b_uids = [session_uid(k) for k in ("b-1", "b-2", "b-3")]
    assert all(before[u]["status"] == "CONFIRMED" for u in a_uids) and not set(b_uids) & set(before)
    # the new section's sessions are hers; the old section's stay as cancelled, with a SEQUENCE the client accepts
    assert all(after[u]["status"] == "CONFIRMED" for u in b_uids)
    assert all(after[u]["status"] == "CANCELLED" and after[u]["sequence"] == before[u]["sequence"] + 1
               for u in a_uids)
    # her manager's readiness follows her into section b's sessions, and only those
    sessions_with_nia = {r.session.id for r in readiness.sessions if any(x.person_id == world.people["nia"]
                                                                         for x in r.learners)}
    assert sessions_with_nia == {world.sessions[k] for k in ("b-1", "b-2", "b-3")}
    assert world.people["nia"] not in {r.person_id for r in roster_a.rows}
    assert world.people["nia"] in {r.person_id for r in roster_b.rows}
    # 30 days on, the old section has left her feed with no write; the stored ETag knows until when it holds
    assert not set(a_uids) & set(later) and set(b_uids) <= set(later)
    assert built.valid_until is not None and built.valid_until <= NOW + CANCELLED_VISIBLE
    assert [c["action"] for c in changes] == ["moved"] and "section a to section b" in changes[0]["details"]


def test_a_move_is_refused_with_a_reason(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        nia = await _membership(world.cohort, world.people["nia"])
        fatima = await _membership(world.cohort, world.people["fatima"])
        errors = []
        for membership, section in ((nia, await _section("support/a")), (fatima, await _section("support/b")),
                                    (nia, 999999)):
            with pytest.raises(UserError) as caught:
                await lifecycle.move_learner(world.cohort, membership, section, actor=designer, now=NOW)
            errors.append(str(caught.value))
        return errors, await RosterChange.count()

    errors, audited = run(scenario())
    assert errors == ["Nia Brooks is in section a already.",
                      "Fatima Khan is a facilitator; only learners belong to a section.",
                      "Choose one of this cohort's sections."]
    assert audited == 0


def test_the_move_page_shows_each_sections_times_in_the_learners_zone(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        learner = await lifecycle.member(world.cohort, await _membership(world.cohort, world.people["nia"]))
        return await lifecycle.section_choices(world.cohort, learner, now=NOW)

    choices = run(scenario())
    a, b = choices
    assert (a.label, a.current, b.label, b.current) == ("section a", True, "section b", False)
    # Nia works 09:00-17:00 in New York: section a at 14:00 UTC is inside her day, section b at 22:00 UTC
    # (17:00 EST / 18:00 EDT) lies outside it
    assert a.outside_count == 0 and len(a.sessions) == 3
    assert b.outside_count == 3
    assert [s.minutes_outside for s in b.sessions] == [60, 60, 60]


# ------------------------------------------------------------------------------------------------- removing


def test_a_removed_member_keeps_history_and_drops_out_everywhere_else(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        nia, mo = world.people["nia"], world.people["mo"]
        assert (await manager_readiness(mo, now=NOW)).sessions
        name = await lifecycle.remove_member(world.cohort, await _membership(world.cohort, nia), actor=designer,
                                             now=NOW, reason="left the company")
        return {
            "name": name,
            "world": world,
            "roster": await cohorts.roster_of(world.cohort),
            "former": await lifecycle.former_members(world.cohort),
            "readiness": await manager_readiness(mo, now=NOW),
            "schedule": await learner_schedule(nia, now=NOW),
            "problem": await problem_from_db([world.cohort], now=NOW),
            "roster_a1": await session_roster(world.sessions["a-1"]),
            "feed": await _events(nia, NOW),
            "manager_feed": await _events(mo, NOW),
            "later": await _events(nia, NOW + CANCELLED_VISIBLE + timedelta(days=1)),
            "completions": await ModuleCompletion.count().where(ModuleCompletion.person == nia),
            "changes": await _changes(nia),
        }

    out = run(scenario())
    world = out["world"]
    assert out["name"] == "Nia Brooks"
    assert "nia@example.com" not in {m["email"] for m in out["roster"]}
    [former] = out["former"]
    assert (former["email"], former["left_by_name"], former["left_reason"], former["modules_done"]) == (
        "nia@example.com", "Dee Designer", "left the company", 1)
    assert out["completions"] == 1  # her history is kept
    assert out["readiness"].sessions == () and out["readiness"].cohorts == ()  # Mo's only report left
    assert out["schedule"].sessions == () and out["schedule"].modules == ()
    [cohort] = out["problem"].cohorts
    assert "nia@example.com" not in {m.email for m in cohort.members}
    assert world.people["nia"] not in {r.person_id for r in out["roster_a1"].rows}
    # every event of the cohort stays in her feed as cancelled for a while, then goes
    assert out["feed"] and all(e["status"] == "CANCELLED" for e in out["feed"].values())
    assert any(e["summary"].startswith("Cancelled: Welcome") for e in out["feed"].values())
    # Mo is a manager member of the cohort himself: its sessions stay his
    assert out["manager_feed"] and all(e["status"] == "CONFIRMED" for e in out["manager_feed"].values())
    assert out["later"] == {}
    assert [c["action"] for c in out["changes"]] == ["removed"]


def test_a_removed_member_can_be_added_again_on_the_same_row(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        membership = await _membership(world.cohort, world.people["liam"])
        await lifecycle.remove_member(world.cohort, membership, actor=designer, now=NOW)
        with pytest.raises(UserError):
            await lifecycle.remove_member(world.cohort, membership, actor=designer, now=NOW)
        values = {"email": "liam@example.com", "name": "Liam Walsh", "role": "learner", "timezone": "UTC",
                  "work_start": "09:00", "work_end": "17:00", "work_days": ["Mon"]}
        saved = await cohorts.add_member(world.cohort, values, None, actor=designer, now=NOW)
        again = await cohorts.add_member(world.cohort, values, None, actor=designer, now=NOW)
        row = await Membership.select().where(Membership.id == membership).first()
        return saved, again, row, await _changes(world.people["liam"])

    saved, again, row, changes = run(scenario())
    assert saved == "Liam Walsh" and again is None
    assert row["left_at"] is None and row["left_by"] is None
    assert [c["action"] for c in changes] == ["removed", "added"] and changes[1]["details"].startswith("re-added")


# ------------------------------------------------------------------------------------------------ transfers


def test_a_transfer_carries_modules_done_and_the_rest_fall_due_on_the_new_dates(db):
    async def scenario():
        world = await build_world()
        designer = world.designer
        beta_a = (await Section.select(Section.id).where(Section.cohort == world.beta).first())["id"]
        await ModuleCompletion.insert(ModuleCompletion(module=world.m_welcome, person=world.lea,
                                                       completed_at=WORLD_NOW - timedelta(days=2)))
        membership = await _membership(world.alpha, world.lea)
        with pytest.raises(UserError, match="choose the section"):
            await lifecycle.transfer_member(world.alpha, membership, world.beta, None, actor=designer,
                                            now=WORLD_NOW)
        with pytest.raises(UserError, match="another cohort"):
            await lifecycle.transfer_member(world.alpha, membership, world.alpha, None, actor=designer,
                                            now=WORLD_NOW)
        words = await lifecycle.transfer_member(world.alpha, membership, world.beta, beta_a, actor=designer,
                                                now=WORLD_NOW)
        return {
            "world": world, "words": words,
            "schedule": await learner_schedule(world.lea, now=WORLD_NOW),
            "readiness": await manager_readiness(world.mia, now=WORLD_NOW),
            "former": await lifecycle.former_members(world.alpha),
            "beta_roster": await cohorts.roster_of(world.beta),
            "changes": await RosterChange.select(RosterChange.action, RosterChange.cohort).where(
                RosterChange.person == world.lea),
            "carried": await ModuleCompletion.select().where(
                (ModuleCompletion.person == world.lea) & (ModuleCompletion.module == world.m_beta)).first(),
        }

    out = run(scenario())
    world = out["world"]
    assert out["words"] == ("Transferred Lea Learner from Alpha to Beta, section a; 1 modules done carried over")
    assert [m.id for m in out["schedule"].modules] == [world.m_beta]
    assert out["schedule"].modules[0].done  # Welcome was done in Alpha: done in Beta too, on its old instant
    assert out["carried"]["completed_at"] == WORLD_NOW - timedelta(days=2)
    assert [s.id for s in out["schedule"].sessions] == [world.beta_next]
    # her manager follows her to Beta's session; Alpha keeps her as a former member
    beta_session = [r for r in out["readiness"].sessions if r.session.id == world.beta_next]
    assert beta_session and world.lea in {x.person_id for x in beta_session[0].learners}
    assert [f["email"] for f in out["former"]] == ["lea@example.com"]
    assert "transferred to Beta" in out["former"][0]["left_reason"]
    assert "lea@example.com" in {m["email"] for m in out["beta_roster"]}
    assert sorted(c["cohort"] for c in out["changes"]) == sorted([world.alpha, world.beta])


def test_transfer_targets_are_the_programs_other_cohorts_by_section(db):
    async def scenario():
        world = await build_world()
        draft = await Cohort.insert(Cohort(program=(await Cohort.select(Cohort.program).first())["program"],
                                           name="Gamma", start_date=WORLD_NOW.date(), weeks=4)).returning(Cohort.id)
        return world, draft[0]["id"], await lifecycle.transfer_targets(world.alpha)

    world, gamma, targets = run(scenario())
    assert [(t.cohort_id, t.section_id is None) for t in targets] == [(world.beta, False), (gamma, True)]
    assert targets[0].label == "Beta (starts 2027-03-01), section a"
    assert lifecycle.parse_target(targets[1].value) == (gamma, None)
    assert lifecycle.parse_target("x:1") is None and lifecycle.parse_target("١:") is None


def test_live_sessions_of_a_section_left_are_still_held_by_the_others(db):
    """Leaving takes nobody else along: Liam stays in section a's roster and feed."""
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        await lifecycle.remove_member(world.cohort, await _membership(world.cohort, world.people["nia"]),
                                      actor=designer, now=NOW)
        return await _events(world.people["liam"], NOW)

    events = run(scenario())
    assert all(events[session_uid(k)]["status"] == "CONFIRMED" for k in ("a-1", "a-2", "a-3"))


def test_the_cohort_list_counts_current_members(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        await lifecycle.remove_member(world.cohort, await _membership(world.cohort, world.people["nia"]),
                                      actor=designer, now=NOW)
        return {row["name"]: row["members"] for row in await cohorts.cohorts()}

    assert run(scenario()) == {COHORT_NAME: 4}


def test_sessions_of_a_left_cohort_are_not_the_learners_any_more(db):
    async def scenario():
        world = await seed_feed_world(PUBLISHED)
        designer = await _designer()
        await lifecycle.remove_member(world.cohort, await _membership(world.cohort, world.people["sofia"]),
                                      actor=designer, now=NOW)
        rows = await LiveSession.select(LiveSession.id).where(LiveSession.cohort == world.cohort)
        return len(rows), await learner_schedule(world.people["sofia"], now=NOW)

    count, schedule = run(scenario())
    assert count == 6 and schedule.sessions == () and schedule.next_session is None
