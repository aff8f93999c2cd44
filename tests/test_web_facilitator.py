"""The facilitator pages over HTTP: sessions, roster with local times and prework, attendance marking."""

from __future__ import annotations

import re

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, csrf_token, page_text, post_form, run, signed_in_client

from models.tables import Attendance, ModuleCompletion
from server.passwords import hash_password


@pytest.fixture
def world(db):
    return run(build_world(hash_password(PASSWORD)))


def attendance(session_id: int) -> list[dict]:
    return run(Attendance.select().where(Attendance.session == session_id))


def row_html(html: str, person_id: int) -> str:
    return re.search(rf'<tr id="learner-{person_id}">.*?</tr>', html, re.S).group(0)


def test_my_upcoming_sessions(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        page = client.get("/facilitator")
    assert page.status_code == 200
    assert f'href="/facilitator/sessions/{world.next}"' in page.text
    upcoming = page.text.split('id="recent-heading"')[0]
    assert f'href="/facilitator/sessions/{world.past}"' not in upcoming  # over already: under "Recent sessions"
    assert f'href="/facilitator/sessions/{world.past}"' in page.text
    assert f'href="/facilitator/sessions/{world.beta_next}"' not in page.text  # not her cohort
    # 2027-03-12 12:00 UTC in London (GMT)
    assert "Fri 12 Mar, 12:00 GMT" in page.text


def test_roster_shows_each_learners_local_time_and_prework(world):
    run(ModuleCompletion(module=world.m_tour, person=world.leo).save())
    with signed_in_client("fay@example.com", now=NOW) as client:
        page = client.get(f"/facilitator/sessions/{world.next}")
    assert page.status_code == 200
    lea, leo = row_html(page.text, world.lea), row_html(page.text, world.leo)
    assert "Lea Learner" in lea and "Fri 12 Mar, 07:00 EST" in lea and "0 of 2" in lea
    assert "Leo Learner" in leo and "Fri 12 Mar, 21:00 JST" in leo and "1 of 2" in leo
    assert 'title="2027-03-12 12:00 UTC"' in lea
    assert "Not marked yet" in lea
    assert f"learner-{world.ben}" not in page.text


def test_mark_attendance_with_htmx_then_reload(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        saved = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.lea}",
                          {"status": "present"}, htmx=True)
        assert saved.status_code == 200
        assert saved.text.lstrip().startswith(f'<tr id="learner-{world.lea}">')
        assert "<html" not in saved.text
        assert f'id="att-{world.lea}-present" name="status" value="present" checked' in saved.text
        assert "Saved: Present, marked by Fay Facilitator" in saved.text

        again = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.lea}",
                          {"status": "late"}, htmx=True)
        assert again.status_code == 200

        page = client.get(f"/facilitator/sessions/{world.next}").text
    lea = row_html(page, world.lea)
    assert f'id="att-{world.lea}-late" name="status" value="late" checked' in lea
    assert 'value="present" checked' not in lea
    assert "Late, marked by Fay Facilitator" in lea
    rows = attendance(world.next)
    assert len(rows) == 1
    assert (rows[0]["person"], rows[0]["status"], rows[0]["marked_by"]) == (world.lea, "late", world.fay)
    assert rows[0]["marked_at"].tzinfo is not None


def test_mark_attendance_without_javascript_redirects_back(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        response = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.leo}",
                             {"status": "excused"})
        assert response.status_code == 303
        assert response.headers["location"] == f"/facilitator/sessions/{world.next}#learner-{world.leo}"
    assert [(r["person"], r["status"]) for r in attendance(world.next)] == [(world.leo, "excused")]


def test_bad_status_is_a_400_and_writes_nothing(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        response = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.lea}",
                             {"status": "asleep"})
    assert response.status_code == 400
    assert "present, late, excused, absent" in response.text
    assert attendance(world.next) == []


def test_facilitator_of_another_cohort_is_refused(world):
    with signed_in_client("finn@example.com", now=NOW) as client:
        assert client.get(f"/facilitator/sessions/{world.next}").status_code == 404
        response = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.lea}",
                             {"status": "absent"})
        assert response.status_code == 404
        assert client.get(f"/facilitator/sessions/{world.beta_next}").status_code == 200
    assert attendance(world.next) == []


def test_learner_outside_the_section_cannot_be_marked(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        response = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{world.ben}",
                             {"status": "present"})
        assert response.status_code == 404
        assert client.get("/facilitator/sessions/999999").status_code == 404
    assert attendance(world.next) == []


def test_designer_sees_every_roster(world):
    with signed_in_client("dee@example.com", now=NOW) as client:
        listing = client.get("/facilitator").text
        assert f"/facilitator/sessions/{world.next}" in listing and f"/facilitator/sessions/{world.beta_next}" in listing
        assert client.get(f"/facilitator/sessions/{world.beta_next}").status_code == 200


def test_attendance_needs_the_csrf_token(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        csrf_token(client)
        response = client.post(f"/facilitator/sessions/{world.next}/attendance/{world.lea}",
                               data={"status": "present"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert attendance(world.next) == []


def test_learners_and_managers_cannot_open_rosters(world):
    for email in ("lea@example.com", "mia@example.com"):
        with signed_in_client(email, now=NOW) as client:
            assert client.get("/facilitator").status_code == 403
            assert client.get(f"/facilitator/sessions/{world.next}").status_code == 403


def _crowd(world, count: int) -> list[int]:
    """`count` more learners in Lea's section (names "Crowd 000"...), returning their ids by name."""
    from models.tables import LiveSession, Membership, Person

    section = run(LiveSession.select(LiveSession.section).where(LiveSession.id == world.next).first())["section"]
    run(Person.insert(*[Person(email=f"crowd{i:03d}@example.com", name=f"Crowd {i:03d}", role="learner",
                               timezone="Asia/Kolkata") for i in range(count)]))
    ids = [r["id"] for r in run(Person.select(Person.id).where(Person.email.like("crowd%")).order_by(Person.name))]
    run(Membership.insert(*[Membership(cohort=world.alpha, person=pid, role="learner", section=section)
                            for pid in ids]))
    return ids


def test_a_big_roster_comes_in_pages_by_name_and_can_be_searched(world):
    from server.services.attendance import ROSTER_PAGE

    crowd = _crowd(world, 2 * ROSTER_PAGE + 10)  # with Lea and Leo: 112 learners, three pages
    total = len(crowd) + 2
    with signed_in_client("fay@example.com", now=NOW) as client:
        first = client.get(f"/facilitator/sessions/{world.next}")
        second = client.get(f"/facilitator/sessions/{world.next}?page=2")
        last = client.get(f"/facilitator/sessions/{world.next}?page=99")  # past the end: the last page
        found = client.get(f"/facilitator/sessions/{world.next}?q=CROWD 10")
        nobody = client.get(f"/facilitator/sessions/{world.next}?q=zz-nobody")
        bad = client.get(f"/facilitator/sessions/{world.next}?page=-1")
        # a learner on the second page is marked like any other
        saved = post_form(client, f"/facilitator/sessions/{world.next}/attendance/{crowd[60]}",
                          {"status": "late"}, htmx=True)
    rows = lambda html: re.findall(r'<tr id="learner-(\d+)">', html)  # noqa: E731
    assert first.status_code == 200 and f"Roster ({total})" in first.text
    assert [int(i) for i in rows(first.text)] == crowd[:ROSTER_PAGE]  # "Crowd 000".. sort before "Lea", "Leo"
    assert f"Learners 1–{ROSTER_PAGE} of {total}" in page_text(first) and "Page 1 of 3" in first.text
    assert f'href="/facilitator/sessions/{world.next}?page=2" rel="next"' in first.text and 'rel="prev"' not in first.text
    assert [int(i) for i in rows(second.text)] == crowd[ROSTER_PAGE:2 * ROSTER_PAGE]
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text
    assert [int(i) for i in rows(last.text)] == crowd[2 * ROSTER_PAGE:] + [world.lea, world.leo]
    assert "Page 3 of 3" in last.text and 'rel="next"' not in last.text
    assert [int(i) for i in rows(found.text)] == crowd[100:110]  # "Crowd 100" .. "Crowd 109", any case
    assert "Learners 1–10 of 10 matching" in page_text(found) and 'rel="next"' not in found.text
    assert rows(nobody.text) == [] and "No learner matches" in nobody.text and "Show everyone" in nobody.text
    assert bad.status_code == 200 and [int(i) for i in rows(bad.text)] == crowd[:ROSTER_PAGE]
    assert saved.status_code == 200 and saved.text.lstrip().startswith(f'<tr id="learner-{crowd[60]}">')
    assert [row["status"] for row in attendance(world.next) if row["person"] == crowd[60]] == ["late"]


def test_a_small_roster_has_no_pages_or_search(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        page = client.get(f"/facilitator/sessions/{world.next}")
    assert "Roster (2)" in page.text and "Find a learner" not in page.text and "Page 1 of" not in page.text
