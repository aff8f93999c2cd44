"""The feed builder on real rows: content per role, time zones across the March 2027 DST changes, stable UIDs,
SEQUENCE and cancellation after a re-plan, deadlines as transparent events, privacy, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from feed_helpers import (
    COHORT_NAME,
    MODULES,
    PEOPLE,
    PUBLISHED_AT,
    SESSIONS,
    cancel_session,
    module_uid,
    move_session,
    seed_feed_world,
    session_uid,
    world_plan,
)

from models.tables import AsyncModule, Cohort, LiveSession, Person, SessionPrework, SessionUnit
from server.controllers.feeds import not_modified
from server.services.feeds import build_feed
from server.services.publishing import publish_plan

pytestmark = pytest.mark.anyio
BASE = "https://cadence.example.org"
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # before the cohort's first session
SECTION_OF = {"nia": "a", "liam": "a", "sofia": "b"}


async def feed_of(world, key: str, *, now: datetime = NOW):
    built = await build_feed(await world.person(key), now=now, base_url=BASE)
    return built, icalendar.Calendar.from_ical(built.body)


def events(calendar) -> dict[str, icalendar.Event]:
    found = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        assert uid not in found, f"UID {uid} twice in one feed"
        found[uid] = event
    return found


def expected_uids(key: str) -> set[str]:
    if key in SECTION_OF:
        sessions = {session_uid(k) for k, section, _ in SESSIONS if section == SECTION_OF[key]}
        return sessions | {module_uid(k) for k, *_ in MODULES}
    if key in ("fatima", "mo"):
        return {session_uid(k) for k, *_ in SESSIONS}
    return set()


async def test_each_role_sees_its_own_events(db):
    world = await seed_feed_world()
    for key in PEOPLE:
        _, calendar = await feed_of(world, key)
        assert set(events(calendar)) == expected_uids(key), key


async def test_every_feed_parses_with_recurring_ical_events_and_has_the_calendar_properties(db):
    world = await seed_feed_world()
    for key in PEOPLE:
        built, calendar = await feed_of(world, key)
        for name in ("PRODID", "VERSION", "CALSCALE", "METHOD", "X-WR-CALNAME", "REFRESH-INTERVAL", "X-PUBLISHED-TTL"):
            assert name in calendar, (key, name)
        assert calendar["METHOD"] == "PUBLISH"
        assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in built.body
        assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in built.body
        occurrences = recurring_ical_events.of(calendar).between(datetime(2027, 1, 1), datetime(2027, 12, 31))
        assert {str(o["UID"]) for o in occurrences} == expected_uids(key), key
        assert not list(calendar.walk("VTODO"))


async def test_local_times_match_zoneinfo_on_both_sides_of_every_dst_change(db):
    world = await seed_feed_world()
    planned = {session_uid(k): start for k, _, start in SESSIONS}
    for key in ("nia", "liam", "sofia", "fatima", "mo"):
        zone = ZoneInfo(PEOPLE[key][2])
        _, calendar = await feed_of(world, key)
        sessions = [e for uid, e in events(calendar).items() if uid in planned]
        assert sessions
        for event in sessions:
            start = event.start
            assert start.tzinfo is not None and getattr(start.tzinfo, "key", None) == zone.key
            expected = planned[str(event["UID"])].astimezone(zone)
            assert start.replace(tzinfo=None) == expected.replace(tzinfo=None), (key, event["UID"])
            assert start == expected
            assert event.end - event.start == timedelta(hours=1)
    # The same UTC instant reads an hour apart in New York before and after 14 March 2027.
    _, calendar = await feed_of(world, "nia")
    found = events(calendar)
    assert found[session_uid("a-1")].start.hour == 9  # 14:00Z = 09:00 EST
    assert found[session_uid("a-2")].start.hour == 10  # 14:00Z = 10:00 EDT
    _, calendar = await feed_of(world, "sofia")
    found = events(calendar)
    assert found[session_uid("b-2")].start.hour == 9  # 22:00Z = 09:00 AEDT
    assert found[session_uid("b-3")].start.hour == 8  # 22:00Z = 08:00 AEST


async def test_every_tzid_has_its_vtimezone(db):
    world = await seed_feed_world()
    for key in PEOPLE:
        built, calendar = await feed_of(world, key)
        defined = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
        used = set()
        for event in calendar.walk("VEVENT"):
            for name in ("DTSTART", "DTEND"):
                tzid = event[name].params.get("TZID")
                if tzid:
                    used.add(tzid)
                else:
                    assert event[name].dt.tzinfo == UTC and event[name].to_ical().endswith(b"Z")
        assert used <= defined, key
        if PEOPLE[key][2] != "UTC" and expected_uids(key):
            assert used == {PEOPLE[key][2]}


async def test_a_person_in_utc_gets_utc_times_and_no_vtimezone(db):
    world = await seed_feed_world()
    await Person.update({Person.timezone: "UTC"}).where(Person.id == world.people["liam"])
    built, calendar = await feed_of(world, "liam")
    assert not list(calendar.walk("VTIMEZONE"))
    assert b"TZID" not in built.body
    start = events(calendar)[session_uid("a-3")].start
    assert start == datetime(2027, 3, 31, 14, 0, tzinfo=UTC)


async def test_deadlines_are_transparent_events_ending_at_the_due_instant(db):
    world = await seed_feed_world()
    _, calendar = await feed_of(world, "nia")
    found = events(calendar)
    for key, title, _release, due in MODULES:
        event = found[module_uid(key)]
        assert event.name == "VEVENT"
        assert event["TRANSP"] == "TRANSPARENT"
        assert event.end == due
        assert event.start < event.end
        assert title in str(event["SUMMARY"])
    assert found[session_uid("a-1")]["TRANSP"] == "OPAQUE"


async def test_session_event_fields(db):
    world = await seed_feed_world()
    _, calendar = await feed_of(world, "nia")
    event = events(calendar)[session_uid("a-1")]
    assert event["DTSTAMP"].dt == PUBLISHED_AT  # the row's updated_at, never "now"
    assert event["LAST-MODIFIED"].dt == PUBLISHED_AT
    assert event["SEQUENCE"] == 0
    assert str(event["URL"]) == f"{BASE}/learner"
    _, calendar = await feed_of(world, "fatima")
    assert str(events(calendar)[session_uid("a-1")]["URL"]) == f"{BASE}/facilitator/sessions/{world.sessions['a-1']}"
    _, calendar = await feed_of(world, "mo")
    assert str(events(calendar)[session_uid("a-1")]["URL"]) == f"{BASE}/manager#readiness-{world.sessions['a-1']}"
    description = str(event["DESCRIPTION"])
    assert "Product tour" in description
    assert "https://meet.example.com/a-1" in description
    assert "[done] Welcome, part 1" in description
    assert "[not done] Welcome, part 2" in description


async def test_a_learner_feed_holds_only_their_own_data(db):
    world = await seed_feed_world()
    built, _ = await feed_of(world, "nia")
    text = built.body.decode()
    for other in ("sofia", "liam", "mo", "uma"):
        assert PEOPLE[other][0] not in text, other
        assert f"{other}@example.com" not in text
    assert "session-b-" not in text
    # Sofia has done both welcome modules; Nia's feed shows Nia's own status for part 2: not done.
    _, calendar = await feed_of(world, "sofia")
    assert "[done] Welcome, part 2" in str(events(calendar)[session_uid("b-1")]["DESCRIPTION"])
    _, calendar = await feed_of(world, "nia")
    assert "Your status: not done" in str(events(calendar)[module_uid("welcome-2")]["DESCRIPTION"])


async def test_facilitators_and_managers_see_prework_titles_without_anyones_status(db):
    world = await seed_feed_world()
    for key in ("fatima", "mo"):
        built, calendar = await feed_of(world, key)
        description = str(events(calendar)[session_uid("b-1")]["DESCRIPTION"])
        assert "Welcome, part 1" in description
        assert "[done]" not in built.body.decode() and "not done" not in built.body.decode()


async def test_several_roles_give_the_union_without_duplicates(db):
    world = await seed_feed_world()
    # Liam, a learner of section a, also runs b-1: his feed holds section a, b-1 once, and the modules.
    await LiveSession.update({LiveSession.facilitator: world.people["liam"]}).where(
        LiveSession.id == world.sessions["b-1"]
    )
    _, calendar = await feed_of(world, "liam")
    assert set(events(calendar)) == expected_uids("liam") | {session_uid("b-1")}
    # Mo manages the cohort and now also runs a-1: every session once.
    await LiveSession.update({LiveSession.facilitator: world.people["mo"]}).where(
        LiveSession.id == world.sessions["a-1"]
    )
    _, calendar = await feed_of(world, "mo")
    assert set(events(calendar)) == expected_uids("mo")


async def test_the_feed_is_byte_for_byte_stable_while_nothing_changes(db):
    world = await seed_feed_world()
    first, _ = await feed_of(world, "sofia")
    second, _ = await feed_of(world, "sofia", now=NOW + timedelta(hours=5))
    assert first.body == second.body
    assert first.etag == second.etag
    assert first.last_modified == PUBLISHED_AT


async def test_a_moved_session_keeps_its_uid_with_a_higher_sequence(db):
    world = await seed_feed_world()
    before_feed, before = await feed_of(world, "nia")
    old = events(before)[session_uid("a-2")]
    later = PUBLISHED_AT + timedelta(days=3)
    await move_session(world, "a-2", datetime(2027, 3, 18, 15, 0, tzinfo=UTC), now=later)
    after_feed, after = await feed_of(world, "nia")
    moved = events(after)[session_uid("a-2")]
    assert set(events(after)) == set(events(before))
    assert moved["SEQUENCE"] > old["SEQUENCE"]
    assert moved.start == datetime(2027, 3, 18, 15, 0, tzinfo=UTC)
    assert moved.start.hour == 11  # 11:00 EDT in New York
    assert after_feed.etag != before_feed.etag
    assert after_feed.last_modified == later


async def test_a_dropped_session_is_cancelled_for_thirty_days_then_gone(db):
    world = await seed_feed_world()
    _, before = await feed_of(world, "liam")
    old_sequence = events(before)[session_uid("a-3")]["SEQUENCE"]
    dropped_at = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    await cancel_session(world, "a-3", now=dropped_at)
    _, calendar = await feed_of(world, "liam", now=dropped_at + timedelta(days=29))
    cancelled = events(calendar)[session_uid("a-3")]
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["SEQUENCE"] > old_sequence
    assert cancelled["TRANSP"] == "TRANSPARENT"
    assert str(cancelled["SUMMARY"]).startswith("Cancelled")
    assert not cancelled.walk("VALARM")
    _, calendar = await feed_of(world, "liam", now=dropped_at + timedelta(days=31))
    assert session_uid("a-3") not in events(calendar)
    assert session_uid("a-2") in events(calendar)


async def test_alarms_appear_only_when_switched_on(db):
    world = await seed_feed_world()
    _, calendar = await feed_of(world, "nia")
    assert not list(calendar.walk("VALARM"))
    await Person.update({Person.feed_alarms: True}).where(Person.id == world.people["nia"])
    _, calendar = await feed_of(world, "nia")
    found = events(calendar)
    session_alarms = found[session_uid("a-1")].walk("VALARM")
    assert len(session_alarms) == 1 and session_alarms[0]["TRIGGER"].dt == -timedelta(minutes=15)
    assert found[module_uid("welcome-2")].walk("VALARM")  # not done yet: reminded
    assert not found[module_uid("welcome-1")].walk("VALARM")  # done already: no reminder


async def test_a_draft_cohort_shows_nothing(db):
    world = await seed_feed_world()
    await Cohort.update({Cohort.status: "draft"}).where(Cohort.id == world.cohort)
    for key in PEOPLE:
        _, calendar = await feed_of(world, key)
        assert not events(calendar), key
        assert COHORT_NAME not in calendar.to_ical().decode()


async def test_conditional_requests(db):
    world = await seed_feed_world()
    built, _ = await feed_of(world, "nia")
    assert not_modified(built, built.etag, None)
    assert not_modified(built, f'"other", W/{built.etag}', None)
    assert not_modified(built, "*", None)
    assert not not_modified(built, '"other"', None)
    assert not_modified(built, None, "Sat, 20 Feb 2027 12:00:00 GMT")
    assert not_modified(built, None, "Sun, 21 Feb 2027 12:00:00 GMT")
    assert not not_modified(built, None, "Sat, 20 Feb 2027 11:59:59 GMT")
    assert not not_modified(built, None, "not a date")
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    assert not not_modified(built, '"other"', "Sun, 21 Feb 2027 12:00:00 GMT")


# --- re-plans through server.services.publishing.publish_plan -------------------------------------------------------


async def test_a_first_publish_through_publish_plan_gives_uids_that_survive_a_re_publish(db):
    world = await seed_feed_world()
    # Start from a draft cohort with no sessions, so publish_plan creates every row and every UID.
    await SessionPrework.delete(force=True)
    await SessionUnit.delete(force=True)
    await LiveSession.delete(force=True)
    await AsyncModule.delete(force=True)
    await Cohort.update({Cohort.status: "draft"}).where(Cohort.id == world.cohort)
    first_at = datetime(2027, 2, 21, 9, 0, tzinfo=UTC)
    await publish_plan(world_plan(), [world.cohort], now=first_at)
    before_feed, before = await feed_of(world, "nia")
    uids = set(events(before))
    assert len(uids) == 5  # three sessions of section a, two deadlines
    assert all(uid.endswith("@cadence") for uid in uids)

    await publish_plan(world_plan(), [world.cohort], now=first_at + timedelta(days=1))
    after_feed, after = await feed_of(world, "nia")
    assert set(events(after)) == uids
    assert after_feed.body == before_feed.body  # nothing changed: the same bytes, the same ETag


async def test_publish_plan_moving_a_session_raises_its_sequence_and_keeps_its_uid(db):
    world = await seed_feed_world()
    _, before = await feed_of(world, "sofia")
    old = events(before)[session_uid("b-2")]
    replanned_at = datetime(2027, 2, 25, 10, 0, tzinfo=UTC)
    new_start = datetime(2027, 4, 6, 22, 0, tzinfo=UTC)  # after Sydney's change: 08:00 AEST
    await publish_plan(world_plan(moves={"b-2": new_start}), [world.cohort], now=replanned_at)
    built, after = await feed_of(world, "sofia")
    found = events(after)
    assert set(found) == set(events(before))
    moved = found[session_uid("b-2")]
    assert moved["SEQUENCE"] > old["SEQUENCE"]
    assert moved.start == new_start and moved.start.hour == 8
    assert found[session_uid("b-3")]["SEQUENCE"] == events(before)[session_uid("b-3")]["SEQUENCE"]
    assert built.last_modified == replanned_at


async def test_publish_plan_dropping_a_session_cancels_it_in_the_feed_for_thirty_days(db):
    world = await seed_feed_world()
    _, before = await feed_of(world, "fatima")
    dropped_at = datetime(2027, 2, 25, 10, 0, tzinfo=UTC)
    await publish_plan(world_plan(drop=frozenset({"a-3"})), [world.cohort], now=dropped_at)
    for key in ("nia", "liam", "fatima", "mo"):
        _, calendar = await feed_of(world, key, now=dropped_at + timedelta(days=30))
        cancelled = events(calendar)[session_uid("a-3")]
        assert cancelled["STATUS"] == "CANCELLED", key
        assert cancelled["SEQUENCE"] > events(before)[session_uid("a-3")]["SEQUENCE"]
        _, calendar = await feed_of(world, key, now=dropped_at + timedelta(days=30, seconds=1))
        assert session_uid("a-3") not in events(calendar), key
    # Put back by a later re-plan: scheduled again, with a higher SEQUENCE still.
    back_at = dropped_at + timedelta(days=2)
    await publish_plan(world_plan(), [world.cohort], now=back_at)
    _, calendar = await feed_of(world, "liam", now=back_at)
    restored = events(calendar)[session_uid("a-3")]
    assert restored["STATUS"] == "CONFIRMED" and restored["SEQUENCE"] == 2


@pytest.mark.slow
async def test_every_demo_person_gets_a_feed_with_events_in_their_own_zone(db, capsys):
    """Everyone, facilitators included: the planner shares a cohort's sections among its facilitators."""
    from server.demo import seed_demo

    assert await seed_demo(if_empty=True, now=datetime.now(UTC), base_url=BASE, time_limit=3) == 0
    capsys.readouterr()
    planned = {row["uid"]: row["starts_at"] for row in await LiveSession.select(LiveSession.uid, LiveSession.starts_at)}
    people = await Person.select().where(Person.role != "designer")
    assert people
    for person in people:
        built = await build_feed(person, now=datetime.now(UTC), base_url=BASE)
        calendar = icalendar.Calendar.from_ical(built.body)
        found = events(calendar)
        assert found, f"{person['email']} ({person['role']}) has an empty feed"
        assert recurring_ical_events.of(calendar).between(datetime(2026, 1, 1), datetime(2028, 1, 1))
        zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
        zone = ZoneInfo(person["timezone"])
        for uid, event in found.items():
            if uid in planned:
                assert event.start == planned[uid]
                assert event.start.replace(tzinfo=None) == planned[uid].astimezone(zone).replace(tzinfo=None)
            tzid = event["DTSTART"].params.get("TZID")
            assert tzid is None or tzid in zones


async def test_marking_prework_done_changes_the_etag_and_last_modified(db):
    from models.tables import ModuleCompletion

    world = await seed_feed_world()
    before, _ = await feed_of(world, "liam")
    done_at = PUBLISHED_AT + timedelta(days=2)
    await ModuleCompletion.insert(
        ModuleCompletion(module=world.modules["welcome-2"], person=world.people["liam"], completed_at=done_at)
    )
    after, calendar = await feed_of(world, "liam")
    assert after.etag != before.etag
    assert after.last_modified == done_at
    assert "[done] Welcome, part 2" in str(events(calendar)[session_uid("a-1")]["DESCRIPTION"])
    # Nia's feed does not move when Liam works.
    nia_before, _ = await feed_of(world, "nia")
    await ModuleCompletion.insert(
        ModuleCompletion(module=world.modules["welcome-1"], person=world.people["liam"], completed_at=done_at)
    )
    nia_after, _ = await feed_of(world, "nia")
    assert nia_after.body == nia_before.body and nia_after.last_modified == nia_before.last_modified


def test_cached_event_text_depends_on_the_viewers_zone():
    """Rendered VEVENTs are cached by what they say; the same instant in two zones is two different texts."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from icalendar import Event

    from server.services.feed_ical import EventText, _event_ical

    start = datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
    texts = {}
    for zone in ("Europe/London", "America/New_York"):
        local = start.astimezone(ZoneInfo(zone))
        event = EventText(zone=zone, uid="u@x", stamp=start, sequence=1, start=local,
                          end=local + timedelta(hours=1), summary="S", description="D", url="https://x/learner",
                          transparency="OPAQUE", status="CONFIRMED")
        texts[zone] = _event_ical(event)
        parsed = Event.from_ical(texts[zone])
        assert parsed.decoded("DTSTART") == start and str(parsed["DTSTART"].params["TZID"]) == zone
    assert texts["Europe/London"] != texts["America/New_York"]
