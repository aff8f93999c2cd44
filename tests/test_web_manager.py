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
