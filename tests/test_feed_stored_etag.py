"""A feed's 304 comes from the ETag stored with its token, without building the feed; and no change to what a
feed shows ever leaves a stale 304: after every kind of change the old ETag gets a 200 with the new body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feed_helpers import cancel_session, move_session, seed_feed_world
from web_helpers import run, web_client

from models.tables import Attendance, Cohort, LiveSession, Membership, Person, Program, Section, Unit
from server.controllers import feeds as feed_controller
from server.services.feed_tokens import feed_token_for
from server.services.feeds import build_feed, set_alarms
from server.services.learning import set_module_done
from server.settings import Settings

SECRET = Settings.from_env().secret_key
NOW = datetime.now(UTC).replace(microsecond=0)
PUBLISHED = NOW - timedelta(days=10)


async def _rename_cohort(world):
    await Cohort.update({Cohort.name: "Support - April"}).where(Cohort.id == world.cohort)


async def _rename_program(world):
    await Program.update({Program.name: "Support, renamed"}).where(Program.id == world.program)


async def _retitle_unit(world):
    await Unit.update({Unit.title: "Ticketing, in depth"}).where(Unit.slug == "ticketing")


async def _rename_facilitator(world):
    await Person.update({Person.name: "Fatima K."}).where(Person.id == world.people["fatima"])


async def _change_zone(world):
    await Person.update({Person.timezone: "Asia/Tokyo"}).where(Person.id == world.people["nia"])


async def _move_section(world):
    other = await Section.select(Section.id).where(Section.key == "support/b").first()
    await Membership.update({Membership.section: other["id"]}).where(Membership.person == world.people["nia"])


async def _leave_cohort(world):
    await Membership.delete().where(Membership.person == world.people["nia"])


async def _join_url(world):
    await LiveSession.update({LiveSession.join_url: "https://meet.example.com/new"}).where(
        LiveSession.id == world.sessions["a-2"])


CHANGES = {
    "re-plan moves a session": lambda w: move_session(w, "a-2", datetime(2027, 3, 18, 15, tzinfo=UTC), now=NOW),
    "re-plan cancels a session": lambda w: cancel_session(w, "a-3", now=NOW),
    "module done": lambda w: set_module_done(w.people["nia"], w.modules["welcome-2"], True, now=NOW),
    "module undone": lambda w: set_module_done(w.people["nia"], w.modules["welcome-1"], False, now=NOW),
    "reminders switched on": lambda w: set_alarms(w.people["nia"], True),
    "person's zone": _change_zone,
    "moved to another section": _move_section,
    "left the cohort": _leave_cohort,
    "cohort renamed": _rename_cohort,
    "program renamed": _rename_program,
    "unit retitled": _retitle_unit,
    "facilitator renamed": _rename_facilitator,
    "join link": _join_url,
}


@pytest.fixture
def builds(monkeypatch):
    """How many times the controller built a feed."""
    counter = {"n": 0}

    async def counting(*args, **kwargs):
        counter["n"] += 1
        return await build_feed(*args, **kwargs)

    monkeypatch.setattr(feed_controller, "build_feed", counting)
    return counter


def _world_and_url():
    world = run(seed_feed_world(PUBLISHED))
    token = run(feed_token_for(world.people["nia"], SECRET, now=NOW))
    return world, f"/feed/{token}.ics"


def test_a_304_is_answered_from_the_stored_etag_without_a_build(db, builds):
    _, url = _world_and_url()
    with web_client(now=NOW) as client:
        first = client.get(url)
        assert first.status_code == 200 and builds["n"] == 1
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        by_date = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 304 and by_date.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["last-modified"] == first.headers["last-modified"]
    assert builds["n"] == 1


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_no_stale_304_after_a_change(db, builds, change):
    world, url = _world_and_url()
    with web_client(now=NOW) as client:
        first = client.get(url)
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    run(CHANGES[change](world))
    with web_client(now=NOW) as client:
        after = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        fresh = client.get(url)
    assert after.status_code == 200, f"stale 304 after: {change}"
    assert after.headers["etag"] != first.headers["etag"] and after.content != first.content
    assert after.content == fresh.content


def test_a_cancelled_session_leaving_the_feed_needs_no_write(db, builds):
    world, url = _world_and_url()
    run(cancel_session(world, "a-3", now=NOW))
    with web_client(now=NOW) as client:
        first = client.get(url)
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    with web_client(now=NOW + timedelta(days=31)) as client:  # past CANCELLED_VISIBLE: the event is gone
        after = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and b"session-a-3@" not in after.content and b"session-a-3@" in first.content


def test_attendance_is_not_in_the_feed_and_keeps_its_etag(db, builds):
    world, url = _world_and_url()
    with web_client(now=NOW) as client:
        first = client.get(url)
    run(Attendance.insert(Attendance(session=world.sessions["a-1"], person=world.people["nia"], status="present",
                                     marked_by=world.people["fatima"], marked_at=NOW)))
    with web_client(now=NOW) as client:
        after = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 304 and after.headers["etag"] == first.headers["etag"]
