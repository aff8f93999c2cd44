"""The feed over HTTP on the real app: headers, ETag / Last-Modified / 304, 404 for wrong or rotated tokens,
and the profile's feed box (rotate, reminders) with CSRF.

Database work happens outside the client's lifespan (which owns the PostgreSQL pool on its own loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import icalendar
import recurring_ical_events
from feed_helpers import move_session, seed_feed_world, session_uid
from web_helpers import PASSWORD, csrf_token, post_form, run, sign_in, web_client

from models.tables import Person
from server.passwords import hash_password
from server.services.feed_tokens import feed_token_for, person_for_token
from server.settings import Settings

SECRET = Settings.from_env().secret_key  # the key the app signs tokens with (tests/conftest.py)

# Rows stamped ten days ago: a server never sends a Last-Modified later than its own clock.
PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


def _world():
    world = run(seed_feed_world(PUBLISHED))
    run(Person.update({Person.password_hash: hash_password(PASSWORD)}).where(Person.id == world.people["nia"]))
    return world


def _token(world, key: str) -> str:
    return run(feed_token_for(world.people[key], SECRET, now=datetime.now(UTC)))


def test_the_feed_answers_with_calendar_headers_and_a_parsable_body(db):
    world = _world()
    token = _token(world, "nia")
    with web_client() as client:
        response = client.get(f"/feed/{token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith("W/")
    assert parsedate_to_datetime(response.headers["last-modified"]) == PUBLISHED
    assert "set-cookie" not in response.headers  # no session, no CSRF cookie: a feed is not a page
    calendar = icalendar.Calendar.from_ical(response.content)
    occurrences = recurring_ical_events.of(calendar).between(datetime(2027, 3, 1), datetime(2027, 5, 1))
    assert session_uid("a-1") in {str(o["UID"]) for o in occurrences}


def test_wrong_garbled_and_rotated_tokens_get_a_bare_404(db):
    world = _world()
    old = _token(world, "nia")
    with web_client() as client:
        first = client.get(f"/feed/{old}.ics")
        assert first.status_code == 200
        answers = [client.get(path) for path in (
            "/feed/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics",
            f"/feed/{old[:-1]}.ics",
            f"/feed/{old}",  # no .ics
            f"/feed/{old}.ics.ics",
            "/feed/%00.ics",
        )]
        assert sign_in(client, "nia@example.com").status_code == 303
        rotated = post_form(client, "/profile/feed/rotate")
        assert rotated.status_code == 303 and rotated.headers["location"] == "/profile"
        after_rotation = client.get(f"/feed/{old}.ics")
    bodies = {response.content for response in [*answers, after_rotation]}
    assert all(response.status_code == 404 for response in [*answers, after_rotation])
    assert bodies == {b"Not found\n"}  # the same answer whatever was wrong
    new = _token(world, "nia")
    assert new != old
    with web_client() as client:
        assert client.get(f"/feed/{new}.ics").status_code == 200


def test_etag_is_stable_304s_and_changes_with_the_content(db):
    world = _world()
    token = _token(world, "liam")
    url = f"/feed/{token}.ics"
    with web_client() as client:
        first = client.get(url)
        second = client.get(url)
        assert first.headers["etag"] == second.headers["etag"]
        assert first.content == second.content
        etag, modified = first.headers["etag"], first.headers["last-modified"]

        by_tag = client.get(url, headers={"If-None-Match": etag})
        assert by_tag.status_code == 304 and by_tag.content == b""
        assert by_tag.headers["etag"] == etag
        by_date = client.get(url, headers={"If-Modified-Since": modified})
        assert by_date.status_code == 304 and by_date.content == b""
        stale_tag = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert stale_tag.status_code == 200 and stale_tag.content == first.content
        earlier = format_datetime(PUBLISHED - timedelta(seconds=1), usegmt=True)
        assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200

    changed_at = PUBLISHED + timedelta(days=1)
    run(move_session(world, "a-2", datetime(2027, 3, 18, 15, 0, tzinfo=UTC), now=changed_at))
    with web_client() as client:
        third = client.get(url, headers={"If-None-Match": etag})
        assert third.status_code == 200
        assert third.headers["etag"] != etag
        assert parsedate_to_datetime(third.headers["last-modified"]) == changed_at
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 200
        assert client.get(url, headers={"If-None-Match": third.headers["etag"]}).status_code == 304


def test_the_profile_feed_box_shows_both_links_and_needs_sign_in(db):
    world = _world()
    token = _token(world, "nia")
    with web_client() as client:
        assert client.get("/profile/feed", follow_redirects=False).status_code in (303, 401)
        sign_in(client, "nia@example.com")
        page = client.get("/profile/feed")
        fragment = client.get("/profile/feed", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "<html" in page.text
    assert fragment.status_code == 200 and "<html" not in fragment.text
    for html in (page.text, fragment.text):
        assert f"/feed/{token}.ics" in html
        assert 'value="webcal://' in html and 'value="http' in html
        assert 'name="_csrf_token"' in html
        assert 'id="feed-box"' in html


def test_rotate_and_alarms_with_htmx_return_the_box(db):
    world = _world()
    old = _token(world, "nia")
    with web_client() as client:
        sign_in(client, "nia@example.com")
        rotated = post_form(client, "/profile/feed/rotate", htmx=True)
        assert rotated.status_code == 200 and 'id="feed-box"' in rotated.text
        assert old not in rotated.text
        switched = post_form(client, "/profile/feed/alarms", {"alarms": "on"}, htmx=True)
        assert switched.status_code == 200 and "Turn reminders off" in switched.text
        back = post_form(client, "/profile/feed/alarms", {"alarms": "on", "next": "/learner"})
        assert back.status_code == 303 and back.headers["location"] == "/learner"
        offsite = post_form(client, "/profile/feed/alarms", {"alarms": "on", "next": "https://evil.example"})
        assert offsite.headers["location"] == "/profile"
        bad = post_form(client, "/profile/feed/alarms", {"alarms": "maybe"})
        assert bad.status_code == 400
    new = _token(world, "nia")
    assert run(person_for_token(old, SECRET)) is None and new in rotated.text
    assert run(Person.select(Person.feed_alarms).where(Person.id == world.people["nia"]).first())["feed_alarms"]
    with web_client() as client:
        body = client.get(f"/feed/{new}.ics").content
    assert b"BEGIN:VALARM" in body


def test_feed_forms_without_a_csrf_token_are_refused(db):
    world = _world()
    old = _token(world, "nia")
    with web_client() as client:
        sign_in(client, "nia@example.com")
        csrf_token(client)
        refused = client.post("/profile/feed/rotate", data={}, follow_redirects=False)
        refused_alarms = client.post("/profile/feed/alarms", data={"alarms": "on"}, follow_redirects=False)
    assert refused.status_code == 403 and refused_alarms.status_code == 403
    assert run(person_for_token(old, SECRET))["id"] == world.people["nia"]


def test_signed_out_posts_do_not_rotate(db):
    world = _world()
    old = _token(world, "nia")
    with web_client() as client:
        response = post_form(client, "/profile/feed/rotate")
    assert response.status_code in (303, 401)
    assert run(person_for_token(old, SECRET))["id"] == world.people["nia"]


def test_the_profile_and_learner_pages_offer_the_feed(db):
    world = _world()
    with web_client() as client:
        sign_in(client, "nia@example.com")
        profile = client.get("/profile")
        learner = client.get("/learner")
    token = _token(world, "nia")
    # The profile page renders the box with the person's own URLs (no extra request).
    assert profile.status_code == 200
    assert f"webcal://testserver.local/feed/{token}.ics" in profile.text or f"/feed/{token}.ics" in profile.text
    assert 'hx-get="/profile/feed"' not in profile.text
    assert learner.status_code == 200
    assert f"webcal://testserver.local/feed/{token}.ics" in learner.text or f"/feed/{token}.ics" in learner.text
    assert 'value="/learner"' in learner.text  # the box's forms come back to the learner page without JS


def test_head_answers_like_get_without_a_body(db):
    world = _world()
    token = _token(world, "nia")
    with web_client() as client:
        full = client.get(f"/feed/{token}.ics")
        head = client.head(f"/feed/{token}.ics")
        unchanged = client.head(f"/feed/{token}.ics", headers={"If-None-Match": full.headers["etag"]})
        wrong = client.head("/feed/not-a-token.ics")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["content-type"] == "text/calendar; charset=utf-8"
    assert int(head.headers["content-length"]) == len(full.content)
    assert unchanged.status_code == 304
    assert wrong.status_code == 404 and wrong.content == b""


def test_if_modified_since_alone_sees_changes_that_leave_no_timestamp(db):
    # Switching reminders on changes the body (VALARMs) but no row's timestamp: a client that revalidates
    # with If-Modified-Since only must still get the new body, not a 304.
    world = _world()
    token = _token(world, "nia")
    url = f"/feed/{token}.ics"
    with web_client() as client:
        first = client.get(url)
        modified = first.headers["last-modified"]
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert b"BEGIN:VALARM" not in first.content

        sign_in(client, "nia@example.com")
        assert post_form(client, "/profile/feed/alarms", {"alarms": "on"}).status_code in (200, 303)

        after = client.get(url, headers={"If-Modified-Since": modified})
        assert after.status_code == 200 and b"BEGIN:VALARM" in after.content
        assert parsedate_to_datetime(after.headers["last-modified"]) > parsedate_to_datetime(modified)
        # ...and the new date then validates the new body.
        again = client.get(url, headers={"If-Modified-Since": after.headers["last-modified"]})
        assert again.status_code == 304
