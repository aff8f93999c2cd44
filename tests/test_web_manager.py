"""The manager page over HTTP: readiness of reports per upcoming session, rates, and the CSV download."""

from __future__ import annotations

import csv
import io

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, post_form, run, signed_in_client

from server.passwords import hash_password


@pytest.fixture
def world(db):
    return run(build_world(hash_password(PASSWORD)))


def test_readiness_changes_when_a_report_finishes_prework(world):
    with signed_in_client("mia@example.com", now=NOW) as client:
        before = client.get("/manager")
    assert before.status_code == 200
    assert "0 of 2 ready" in before.text
    assert "Lea Learner" in before.text and "Leo Learner" in before.text
    assert "Ben Beta" not in before.text and "Beta" not in before.text.split('id="sessions-heading"')[1]
    # 12:00 UTC is 06:00 CST in Chicago
    assert "Fri 12 Mar, 06:00 CST" in before.text

    with signed_in_client("lea@example.com", now=NOW) as client:
        for module in (world.m_welcome, world.m_tour):
            assert post_form(client, f"/learner/modules/{module}/done").status_code == 303

    with signed_in_client("mia@example.com", now=NOW) as client:
        after = client.get("/manager").text
    assert "1 of 2 ready" in after
    not_ready = after.split("Not ready (1)")[1].split("</table>")[0]
    assert "Leo Learner" in not_ready and "Lea Learner" not in not_ready
    assert "Welcome, Product tour" in not_ready


def test_csv_download(world):
    with signed_in_client("lea@example.com", now=NOW) as client:
        post_form(client, f"/learner/modules/{world.m_welcome}/done")
    with signed_in_client("mia@example.com", now=NOW) as client:
        response = client.get("/manager/readiness.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="readiness.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["learner"], r["email"], r["ready"], r["missing"]) for r in rows] == [
        ("Lea Learner", "lea@example.com", "no", "Product tour"),
        ("Leo Learner", "leo@example.com", "no", "Welcome; Product tour"),
    ]
    assert {r["session"] for r in rows} == {"Alpha (section a)"}
    assert {r["start_utc"] for r in rows} == {"2027-03-12T12:00:00Z"}


def test_each_manager_sees_only_their_reports(world):
    with signed_in_client("max@example.com", now=NOW) as client:
        page = client.get("/manager").text
        rows = list(csv.DictReader(io.StringIO(client.get("/manager/readiness.csv").text)))
    assert "Ben Beta" in page and "Lea Learner" not in page and "Alpha" not in page
    assert [r["email"] for r in rows] == ["ben@example.com"]


def test_other_roles_cannot_see_readiness(world):
    for email in ("lea@example.com", "fay@example.com"):
        with signed_in_client(email, now=NOW) as client:
            assert client.get("/manager").status_code == 403
            assert client.get("/manager/readiness.csv").status_code == 403


def test_later_sessions_link_to_their_own_page_of_who_is_not_ready(world):
    """The next session lists who is not ready; a later one shows its count and links to a page that lists
    them, so the readiness page does not grow with sessions x reports."""
    from datetime import timedelta

    from models.tables import LiveSession, SessionPrework

    alpha_a = run(LiveSession.select(LiveSession.section).where(LiveSession.id == world.next).first())["section"]
    later = run(LiveSession.insert(LiveSession(
        cohort=world.alpha, section=alpha_a, key="alpha-3", uid="alpha-3@test", starts_at=NOW + timedelta(days=9),
        ends_at=NOW + timedelta(days=9, hours=1), facilitator=world.fay)))[0]["id"]
    run(SessionPrework.insert(SessionPrework(session=later, module=world.m_later)))
    with signed_in_client("mia@example.com", now=NOW) as client:
        page = client.get("/manager")
        own = client.get(f"/manager/sessions/{later}")
        gone = client.get("/manager/sessions/999999")
        over = client.get(f"/manager/sessions/{world.past}")  # not upcoming any more
    later_card = page.text.split(f'id="readiness-{later}"')[1].split("</details>")[0]
    assert "0 of 2 ready" in later_card and f'href="/manager/sessions/{later}"' in later_card
    assert "See the 2 not ready" in later_card and "Lea Learner" not in later_card
    next_card = page.text.split(f'id="readiness-{world.next}"')[1].split("</details>")[0]
    assert "Not ready (2)" in next_card and "Lea Learner" in next_card  # the next session: listed in place
    assert own.status_code == 200 and "Not ready (2)" in own.text
    assert "Lea Learner" in own.text and "Leo Learner" in own.text and "Later reading" in own.text
    assert gone.status_code == 404 and over.status_code == 404
