"""Signing in and out, session fixation, CSRF, guards."""

from __future__ import annotations

import pytest
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from web_helpers import (
    PASSWORD,
    csrf_token,
    make_person,
    post_form,
    run,
    session_cookie,
    sign_in,
    web_client,
)

from models.tables import WebSession
from server.auth import role_guard, safe_next, signed_in


def test_sign_in_then_out(db):
    make_person("dee@example.org", "designer", name="Dee Signer")
    with web_client() as client:
        first = client.get("/profile", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/signin?next=/profile"

        response = sign_in(client, "Dee@Example.org", next="/profile")
        assert response.status_code == 303
        assert response.headers["location"] == "/profile"
        page = client.get("/profile")
        assert page.status_code == 200
        assert "Dee Signer" in page.text

        out = post_form(client, "/signout")
        assert out.status_code == 303
        assert client.get("/profile", follow_redirects=False).status_code == 303
    assert run(WebSession.count()) == 0


def test_a_signed_in_page_reads_its_session_and_person_in_one_query_and_older_sessions_still_work(db):
    """The session row names its person (migration 0012), so the session and the person are one query; a row
    written before that names nobody and signs in through a second read; a person deactivated since is out."""
    from test_query_count import counting

    from models.tables import Person

    dee = make_person("dee@example.org", "designer", name="Dee Signer")
    with web_client() as client:
        sign_in(client, dee.email)
        assert [r["person"] for r in run(WebSession.select(WebSession.person))] == [dee.id]
        with counting(Person._meta.db) as queries:
            assert client.get("/").status_code == 200
        assert queries["n"] == 1
        run(WebSession.update({WebSession.person: None}, force=True))  # as if written before the migration
        with counting(Person._meta.db) as queries:
            assert client.get("/").status_code == 200
        assert queries["n"] == 2
        assert "Dee Signer" in client.get("/profile").text
        run(Person.update({Person.active: False}).where(Person.id == dee.id))  # the row stays; the person may not
        assert client.get("/", follow_redirects=False).status_code == 303
        run(WebSession.update({WebSession.person: dee.id}, force=True))
        assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_page_is_the_same_for_unknown_email(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        wrong = sign_in(client, "dee@example.org", "not the password")
        unknown = sign_in(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Email or password is incorrect" in wrong.text
    assert "Email or password is incorrect" in unknown.text

    def strip(html: str, email: str) -> str:
        # the page echoes the typed email back into the field; apart from that they are identical
        return html.replace(email, "EMAIL").split('name="_csrf_token" value="')[0]

    assert strip(wrong.text, "dee@example.org") == strip(unknown.text, "nobody@example.org")


def test_inactive_person_cannot_sign_in(db):
    """The right password of a deactivated account gets a clear message (403); a wrong one is "incorrect" as
    for anyone, so the message tells nothing to someone who does not know the password."""
    make_person("gone@example.org", "learner", active=False)
    with web_client() as client:
        refused = sign_in(client, "gone@example.org")
        assert refused.status_code == 403
        assert "This account has been deactivated" in refused.text
        assert client.get("/learner", follow_redirects=False).status_code == 303  # not signed in
        wrong = sign_in(client, "gone@example.org", "not-the-password")
        assert wrong.status_code == 401 and "deactivated" not in wrong.text


def test_sign_in_issues_a_fresh_session_id(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        # a session id planted before sign-in (e.g. by an attacker) ...
        client.cookies.set("cadence_session", "a" * 64, domain="testserver.local")
        response = sign_in(client, "dee@example.org")
        assert response.status_code == 303
        after = session_cookie(client)
        assert after and after != "a" * 64
        # ... is not the one that is signed in
        client.cookies.set("cadence_session", "a" * 64, domain="testserver.local")
        assert client.get("/profile", follow_redirects=False).status_code == 303

    # and a second sign-in from the same browser gets another id again
    with web_client() as client:
        sign_in(client, "dee@example.org")
        first = session_cookie(client)
        sign_in(client, "dee@example.org")
        assert session_cookie(client) != first
        assert client.get("/profile").status_code == 200


def test_form_post_without_csrf_token_is_refused(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        sign_in(client, "dee@example.org")
        response = client.post("/profile", data={"timezone": "Europe/Berlin", "work_start": "09:00",
                                                 "work_end": "17:00", "work_days": "Mon"})
        assert response.status_code == 403
        assert "Reload the page" in response.text
        # sign-in itself is a form: also refused without its token
        client.cookies.clear()
        assert client.post("/signin", data={"email": "dee@example.org", "password": PASSWORD}).status_code == 403


def test_htmx_post_without_header_is_refused(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        sign_in(client, "dee@example.org")
        data = {"timezone": "Europe/Berlin", "work_start": "09:00", "work_end": "17:00", "work_days": "Mon"}
        refused = client.post("/profile", data=data, headers={"HX-Request": "true"})
        assert refused.status_code == 403
        accepted = client.post("/profile", data=data,
                               headers={"HX-Request": "true", "x-csrftoken": csrf_token(client)})
        assert accepted.status_code == 200
        assert "Saved." in accepted.text
        assert "<html" not in accepted.text  # just the fragment


def test_htmx_request_when_signed_out_gets_hx_redirect(db):
    with web_client() as client:
        response = client.get("/profile", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/signin?next=/profile"


def test_next_must_be_relative(db):
    make_person("dee@example.org", "designer")
    with web_client() as client:
        response = sign_in(client, "dee@example.org", next="https://evil.example/")
    assert response.headers["location"] == "/"
    assert safe_next("//evil.example/x") == "/"
    assert safe_next("/\\evil.example") == "/"
    assert safe_next("/cohorts/3?tab=plan") == "/cohorts/3?tab=plan"


class _Person:
    def __init__(self, role):
        self.role = role


def test_access_rules_refuse_by_raising_and_designers_pass_every_role_rule():
    learner_pages = role_guard("learner")
    learner_pages(_Person("learner"))
    learner_pages(_Person("designer"))  # a designer sees everything
    with pytest.raises(PermissionDeniedException):
        learner_pages(_Person("manager"))
    with pytest.raises(NotAuthorizedException):
        learner_pages(None)
    with pytest.raises(NotAuthorizedException):
        signed_in(None)
    signed_in(_Person("manager"))
    with pytest.raises(ValueError):
        role_guard("admin")


def test_every_controller_route_names_its_access_rule_and_no_litestar_guard_is_left():
    """Rules run in LoadUserMiddleware from `opt` (no per-request copy of the handler): every route of a
    controller that named one carries it, and no route still has a Litestar guard (it would run too)."""
    from server.app import create_app
    from server.auth import ACCESS

    app = create_app()
    guarded = [handler for route in app.routes for handler in getattr(route, "route_handlers", [])
               if ACCESS in handler.opt]
    assert len(guarded) > 80
    assert all(callable(handler.opt[ACCESS]) for handler in guarded)
    assert not [handler for route in app.routes for handler in getattr(route, "route_handlers", [])
                if handler.resolve_guards()]


def test_profile_validation_and_save(db):
    make_person("lee@example.org", "learner")
    with web_client() as client:
        sign_in(client, "lee@example.org")
        bad = post_form(client, "/profile", {"timezone": "Mars/Olympus", "work_start": "18:00",
                                             "work_end": "09:00"})
        assert bad.status_code == 400
        assert "Mars/Olympus is not a time zone name" in bad.text
        assert "The day must end after it starts" in bad.text
        assert "Choose at least one working day" in bad.text
        good = post_form(client, "/profile", {"timezone": "Asia/Kolkata", "work_start": "10:00",
                                              "work_end": "18:30", "work_days": ["Mon", "Tue", "Wed"]})
        assert good.status_code == 200
    from models.tables import Person

    row = run(Person.select().where(Person.email == "lee@example.org").first())
    assert (row["timezone"], row["work_start"], row["work_end"], row["work_days"]) == (
        "Asia/Kolkata", "10:00", "18:30", "Mon,Tue,Wed")


def test_sign_in_rehashes_a_password_made_with_old_parameters(db):
    from argon2 import PasswordHasher

    from models.tables import Person
    from server.passwords import verify_password

    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    make_person("old@example.org", "learner", password="")
    run(Person.update({Person.password_hash: old}).where(Person.email == "old@example.org"))
    with web_client() as client:
        assert sign_in(client, "old@example.org").status_code == 303
    stored = run(Person.select(Person.password_hash).where(Person.email == "old@example.org").first())
    assert stored["password_hash"] != old
    assert verify_password(stored["password_hash"], PASSWORD)


@pytest.mark.anyio
async def test_the_signed_in_person_is_the_person_piccolo_would_build(db):
    """`person_from_row` (the signed-in request's Person, without Piccolo's per-column constructor) gives the
    instance `Person(_exists_in_db=True, **row)` gives, attribute by attribute, and it works like one (saved,
    read back); a row that is not exactly the table's columns takes the constructor."""
    from models.tables import Person
    from server.auth import person_from_row
    from server.db import fetch_one

    ann = Person(email="ann@x.org", name="Ann", timezone="Asia/Kolkata")
    await ann.save()
    row = await fetch_one("SELECT * FROM person WHERE id = {}", ann.id)
    fast, built = person_from_row(dict(row)), Person(_exists_in_db=True, **row)
    assert type(fast) is Person and vars(fast) == vars(built)
    assert (fast.id, fast.name, fast.timezone, fast.active) == (ann.id, "Ann", "Asia/Kolkata", True)
    assert fast.to_dict() == built.to_dict()
    fast.name = "Ann B"
    await fast.save()
    assert (await Person.select(Person.name).where(Person.id == ann.id).first())["name"] == "Ann B"
    partial = {key: value for key, value in row.items() if key != "feed_alarms"}
    assert vars(person_from_row(partial)) == vars(Person(_exists_in_db=True, **partial))
    with pytest.raises(ValueError, match="Unrecognized"):
        person_from_row({**row, "extra": 1})
