"""The lifecycle through the web app: deactivating a person (sign-in refused with a clear message, sessions
ended, feed URL 404, a new feed URL on reactivation), removing and moving members from the designer's pages,
the roster CSV update (preview, one apply, 409 when stale), and the feed's stored ETag after each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from feed_helpers import seed_feed_world, session_uid
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, csrf_token, make_person, page_text, run, sign_in, web_client

from models.tables import FeedToken, LiveSession, Membership, Person, RosterChange, Section, WebSession
from server.passwords import hash_password
from server.services.feed_tokens import feed_token_for
from server.services.learning import learner_schedule
from server.settings import Settings

SECRET = Settings.from_env().secret_key


def _post(client, url: str, data: dict | None = None, **kwargs):
    return client.post(url, data={"_csrf_token": csrf_token(client), **(data or {})}, follow_redirects=False,
                       **kwargs)


def _membership(cohort_id: int, person_id: int) -> int:
    return run(Membership.select(Membership.id).where(
        (Membership.cohort == cohort_id) & (Membership.person == person_id)).first())["id"]


def _world():
    world = run(build_world(password_hash=hash_password(PASSWORD)))
    return world


# ------------------------------------------------------------------------------------ deactivate, reactivate


def test_a_deactivated_person_is_signed_out_refused_and_their_feed_is_gone(db):
    designer = make_person("dee@example.org", "designer")
    learner = make_person("lou@example.org", "learner", name="Lou Learner")
    old_token = run(feed_token_for(learner.id, SECRET, now=NOW))
    # one client open at a time: on PostgreSQL two apps on two event loops would share one connection pool;
    # each client keeps its cookies across its turns
    with web_client() as lou:
        assert sign_in(lou, learner.email).status_code == 303
        assert lou.get("/profile", follow_redirects=False).status_code == 200
        assert lou.get(f"/feed/{old_token}.ics").status_code == 200
        lou_cookies = dict(lou.cookies)
    with web_client() as dee:
        assert sign_in(dee, designer.email).status_code == 303
        done = _post(dee, f"/people/{learner.id}/deactivate")
        assert done.status_code == 200 and "Lou Learner is deactivated" in done.text
    assert run(WebSession.count()) == 1  # only the designer's session is left
    with web_client() as lou:
        lou.cookies.update(lou_cookies)
        assert lou.get("/profile", follow_redirects=False).status_code == 303  # her session has ended
        assert lou.get(f"/feed/{old_token}.ics").status_code == 404
        refused = sign_in(lou, learner.email)
        assert refused.status_code == 403 and "This account has been deactivated" in refused.text
    # the designer's second turn through the service: a deactivation twice is refused (the page answers 409)
    import pytest

    from server.errors import UserError
    from server.services import people

    with pytest.raises(UserError):
        run(people.deactivate(learner.id, actor=designer.id, now=NOW))  # once is enough (the page's 409)
    run(people.reactivate(learner.id, actor=designer.id, now=NOW))
    with web_client() as lou:
        assert sign_in(lou, learner.email).status_code == 303
        new_token = run(feed_token_for(learner.id, SECRET, now=NOW))
        assert new_token != old_token
        assert lou.get(f"/feed/{old_token}.ics").status_code == 404
        assert lou.get(f"/feed/{new_token}.ics").status_code == 200
        assert new_token in lou.get("/profile").text
    actions = [row["action"] for row in run(RosterChange.select().where(RosterChange.person == learner.id))]
    assert actions == ["deactivated", "reactivated"]
    assert run(Person.select(Person.active, Person.deactivated_at).where(Person.id == learner.id).first()) == {
        "active": True, "deactivated_at": None}


def test_a_designer_cannot_deactivate_their_own_account(db):
    designer = make_person("dee@example.org", "designer")
    with web_client() as client:
        sign_in(client, designer.email)
        response = _post(client, f"/people/{designer.id}/deactivate")
    assert response.status_code == 409 and "You cannot deactivate your own account." in response.text
    assert run(Person.select(Person.active).where(Person.id == designer.id).first())["active"] is True


# ------------------------------------------------------------------------------------- remove and move


def test_removing_a_member_from_the_roster_shows_them_as_former(db):
    world = _world()
    leo = _membership(world.alpha, world.leo)
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        fragment = _post(client, f"/cohorts/{world.alpha}/members/{leo}/remove", headers={"HX-Request": "true"})
        again = _post(client, f"/cohorts/{world.alpha}/members/{leo}/remove")
        page = client.get(f"/cohorts/{world.alpha}")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="roster">')
    assert "Leo Learner left the cohort" in fragment.text
    former = page.text.split('id="former-members"')[1]
    assert "Leo Learner" in former and "left on" in former and "Dee Designer" in former
    assert again.status_code == 404  # not a current member any more
    with web_client(now=NOW) as manager:
        sign_in(manager, "mia@example.com")
        assert "Leo Learner" not in manager.get("/manager").text


def test_moving_a_learner_from_the_member_page(db):
    world = _world()
    section_b = run(Section.insert(Section(cohort=world.alpha, key="alpha/b")).returning(Section.id))[0]["id"]
    start = NOW + timedelta(days=2, hours=10)  # 22:00 UTC: 17:00 in New York (EST until 14 March)
    moved_to = run(LiveSession.insert(LiveSession(
        cohort=world.alpha, section=section_b, key="alpha-b-2", uid="alpha-b-2@test", starts_at=start,
        ends_at=start + timedelta(hours=1), facilitator=world.fay)).returning(LiveSession.id))[0]["id"]
    lea = _membership(world.alpha, world.lea)
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        page = client.get(f"/cohorts/{world.alpha}/members/{lea}")
        bad = _post(client, f"/cohorts/{world.alpha}/members/{lea}/move", {"section": "abc"})
        moved = _post(client, f"/cohorts/{world.alpha}/members/{lea}/move", {"section": str(section_b)})
        twice = _post(client, f"/cohorts/{world.alpha}/members/{lea}/move", {"section": str(section_b)})
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "section b" in text and "1 h outside their hours" in text and "EST" in text
    assert bad.status_code == 400 and "Choose the section to move to." in bad.text
    assert moved.status_code == 200 and "Moved Lea Learner from section a to section b." in moved.text
    assert twice.status_code == 400 and "is in section b already" in twice.text
    assert run(Membership.select(Membership.section).where(Membership.id == lea).first())["section"] == section_b
    assert [s.id for s in run(learner_schedule(world.lea, now=NOW)).sessions] == [moved_to]


def test_transfer_from_the_member_page(db):
    world = _world()
    beta_a = run(Section.select(Section.id).where(Section.cohort == world.beta).first())["id"]
    lea = _membership(world.alpha, world.lea)
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        page = client.get(f"/cohorts/{world.alpha}/members/{lea}")
        bad = _post(client, f"/cohorts/{world.alpha}/members/{lea}/transfer", {"target": "nonsense"})
        done = _post(client, f"/cohorts/{world.alpha}/members/{lea}/transfer", {"target": f"{world.beta}:{beta_a}"})
    assert f'value="{world.beta}:{beta_a}"' in page.text
    assert bad.status_code == 400 and "Choose the cohort to transfer to." in bad.text
    assert done.status_code == 200 and "Transferred Lea Learner from Alpha to Beta" in done.text
    assert run(Membership.select(Membership.left_at).where(Membership.id == lea).first())["left_at"] == NOW


# --------------------------------------------------------------------------------------- roster from CSV

CSV = (
    "email,name,role,timezone,hours,days,manager\n"
    "lea@example.com,Lea Learner,learner,America/New_York,09:00-17:00,Mon-Fri,\n"  # manager Mia -> none
    "fay@example.com,Fay Facilitator,facilitator,Europe/London,,,\n"
    "mia@example.com,Mia Manager,manager,America/Chicago,,,\n"
    "nora@example.com,Nora New,learner,Asia/Kolkata,10:00-18:00,Sun-Thu,mia@example.com\n"
)  # Leo is not in the file: he leaves


def _preview(client, cohort_id: int, csv: str = CSV, name: str = "roster.csv"):
    return client.post(f"/cohorts/{cohort_id}/roster-update", data={"_csrf_token": csrf_token(client)},
                       files={"roster": (name, csv.encode(), "text/csv")}, follow_redirects=False)


def _confirm_fields(html: str) -> dict:
    digest = re.search(r'name="digest" value="([^"]+)"', html).group(1)
    file_name = re.search(r'name="file_name" value="([^"]+)"', html).group(1)
    csv = re.search(r'<textarea name="csv"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    import html as h

    return {"digest": digest, "file_name": file_name, "csv": h.unescape(csv)}


def test_a_roster_csv_is_previewed_then_applied_in_one_go(db):
    world = _world()
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        preview = _preview(client, world.alpha)
        assert preview.status_code == 200
        text = re.sub(r"\s+", " ", page_text(preview))
        assert "Added (1)" in text and "Nora New" in text and "new account" in text
        assert "Changed (1)" in text and "manager mia@example.com → none" in text
        assert "Removed (1)" in text and "Leo Learner" in text
        assert run(Person.count().where(Person.email == "nora@example.com")) == 0  # nothing saved yet
        fields = _confirm_fields(preview.text)
        fields["csv"] = fields["csv"].replace("\n", "\r\n")  # as a browser sends a form field back
        applied = _post(client, f"/cohorts/{world.alpha}/roster-update/apply", fields)
    assert applied.status_code == 303 and applied.headers["location"] == f"/cohorts/{world.alpha}#roster"
    rows = run(Membership.select(Membership.person.email.as_alias("email"), Membership.left_at, Membership.manager,
                                 Membership.role).where(Membership.cohort == world.alpha))
    by_email = {r["email"]: r for r in rows}
    assert by_email["leo@example.com"]["left_at"] == NOW
    assert by_email["lea@example.com"]["manager"] is None and by_email["lea@example.com"]["left_at"] is None
    assert by_email["nora@example.com"]["manager"] == world.mia
    nora = run(Person.select().where(Person.email == "nora@example.com").first())
    assert (nora["timezone"], nora["work_start"], nora["work_days"]) == ("Asia/Kolkata", "10:00", "Mon,Tue,Wed,Thu,Sun")
    actions = sorted(r["action"] for r in run(RosterChange.select().where(RosterChange.cohort == world.alpha)))
    assert actions == ["added", "removed", "updated"]


def test_a_stale_preview_is_refused_and_nothing_is_written(db):
    world = _world()
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        fields = _confirm_fields(_preview(client, world.alpha).text)
        # someone changes the roster between the preview and the apply
        run(Membership.update({Membership.manager: world.max}).where(Membership.person == world.leo))
        stale = _post(client, f"/cohorts/{world.alpha}/roster-update/apply", fields)
        tampered = _post(client, f"/cohorts/{world.alpha}/roster-update/apply",
                         {**fields, "csv": fields["csv"].replace("Nora New", "Nora Other")})
    assert stale.status_code == 409 and "The roster changed since the preview" in stale.text
    assert tampered.status_code == 409
    assert run(Person.count().where(Person.email == "nora@example.com")) == 0
    assert run(Membership.count().where(Membership.left_at.is_not_null())) == 0
    assert run(RosterChange.count()) == 0


def test_a_bad_roster_file_is_one_line_and_nothing_is_saved(db):
    world = _world()
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        unknown = _preview(client, world.alpha, "email,name,zone\nx@example.com,X,UTC\n")
        empty = _preview(client, world.alpha, "")
        twice = _preview(client, world.alpha, CSV + "nora@example.com,Nora,learner,UTC,,,\n")
        manager = _preview(client, world.alpha, "email,name,timezone,manager\nx@example.com,X,UTC,who@example.com\n")
    assert unknown.status_code == 400 and "roster.csv: line 1: unknown column &#39;zone&#39;" in unknown.text
    assert empty.status_code == 400 and "the file is empty" in empty.text
    assert twice.status_code == 400 and "nora@example.com appears twice" in twice.text
    assert manager.status_code == 400 and "who@example.com is neither a person nor in this file" in manager.text
    assert run(RosterChange.count()) == 0


# ------------------------------------------------------------------------------------ the feed's stored ETag


def test_removing_a_member_changes_their_stored_feed_etag_and_the_cancellation_lapses(db):
    now = datetime.now(UTC).replace(microsecond=0)
    world = run(seed_feed_world(now - timedelta(days=10)))
    designer = make_person("dee@example.org", "designer")
    token = run(feed_token_for(world.people["nia"], SECRET, now=now))
    url = f"/feed/{token}.ics"
    with web_client(now=now) as client:
        first = client.get(url)
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        sign_in(client, designer.email)
        nia = _membership(world.cohort, world.people["nia"])
        assert _post(client, f"/cohorts/{world.cohort}/members/{nia}/remove").status_code == 200
        after = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        held = client.get(url, headers={"If-None-Match": after.headers["etag"]})
    assert after.status_code == 200 and b"STATUS:CANCELLED" in after.content
    assert session_uid("a-1").encode() in after.content
    assert held.status_code == 304
    with web_client(now=now + timedelta(days=31)) as client:  # no write: the withdrawal lapses by itself
        later = client.get(url, headers={"If-None-Match": after.headers["etag"]})
    assert later.status_code == 200 and session_uid("a-1").encode() not in later.content
    assert run(FeedToken.count().where(FeedToken.revoked_at.is_null())) == 1


# ------------------------------------------------------------------------------------------ the zone picker


def test_every_form_that_takes_a_zone_offers_the_iana_zones_with_offset_and_local_time(db):
    world = _world()
    with web_client(now=NOW) as client:  # 2027-03-10 12:00 UTC: New York on EST, Sydney on AEDT
        sign_in(client, "dee@example.com")
        pages = {path: client.get(path).text for path in ("/profile", "/people", "/cohorts", f"/cohorts/{world.alpha}")}
    for path, html in pages.items():
        assert "data-zone-picker" in html, path
        assert '<option value="America/New_York">America/New York (UTC-05:00, now 07:00)</option>' in html, path
        assert '<option value="Australia/Sydney">Australia/Sydney (UTC+11:00, now 23:00)</option>' in html, path
        assert "list=" not in html.split("data-zone-picker")[1][:400], path  # a select, not a free text box
    assert '<option value="UTC" selected>' in pages["/profile"]
