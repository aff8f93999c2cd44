"""The learner page over HTTP: schedule in the learner's zone, mark done / undo with and without htmx,
and no way to touch another cohort's module."""

from __future__ import annotations

import re

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, csrf_token, post_form, run, signed_in_client

from models.tables import ModuleCompletion
from server.passwords import hash_password


@pytest.fixture
def world(db):
    return run(build_world(hash_password(PASSWORD)))


def completions(person_id: int) -> set[int]:
    rows = run(ModuleCompletion.select(ModuleCompletion.module).where(ModuleCompletion.person == person_id))
    return {row["module"] for row in rows}


def test_schedule_in_the_learners_zone(world):
    with signed_in_client("lea@example.com", now=NOW) as client:
        page = client.get("/learner")
    assert page.status_code == 200
    html = page.text
    # the next session: 2027-03-12 12:00 UTC is 07:00 EST in New York (DST starts on the 14th)
    next_session = html[html.index('id="next-session"'):html.index('id="progress"')]
    assert '<time datetime="2027-03-12T12:00:00Z" title="2027-03-12 12:00 UTC">Fri 12 Mar, 07:00 EST</time>' in next_session
    assert 'href="https://meet.example.com/alpha-2"' in next_session
    assert "Prework: 0 of 2 done" in next_session
    assert "Welcome" in next_session and "Product tour" in next_session
    # modules of her cohort only, the overdue one marked
    assert f'id="module-{world.m_welcome}"' in html
    assert f'id="module-{world.m_beta}"' not in html
    welcome_row = re.search(rf'<tr id="module-{world.m_welcome}"[^>]*>.*?</tr>', html, re.S).group(0)
    assert "overdue" in welcome_row and "Overdue" in welcome_row
    assert "0 min of 30 min done (0%)" in html
    assert 'name="_csrf_token"' in html


def test_mark_done_and_undo_with_htmx(world):
    # the database is checked between clients: a client's lifespan owns the PostgreSQL pool on its own loop
    with signed_in_client("lea@example.com", now=NOW) as client:
        done = post_form(client, f"/learner/modules/{world.m_tour}/done", htmx=True)
    assert done.status_code == 200
    assert done.text.lstrip().startswith(f'<tr id="module-{world.m_tour}"')
    assert "<html" not in done.text
    assert 'id="progress" class="card" aria-labelledby="progress-heading" hx-swap-oob="true"' in done.text
    assert "15 min of 30 min done (50%)" in done.text
    assert "Prework: 1 of 2 done" in done.text  # the next-session panel, out of band
    assert "Undo" in done.text
    assert completions(world.lea) == {world.m_tour}

    with signed_in_client("lea@example.com", now=NOW) as client:
        undo = post_form(client, f"/learner/modules/{world.m_tour}/undo", htmx=True)
    assert undo.status_code == 200
    assert "Mark done" in undo.text and "0 min of 30 min done (0%)" in undo.text
    assert completions(world.lea) == set()


def test_mark_done_without_javascript_redirects_back(world):
    with signed_in_client("lea@example.com", now=NOW) as client:
        response = post_form(client, f"/learner/modules/{world.m_welcome}/done")
        assert response.status_code == 303
        assert response.headers["location"] == f"/learner#module-{world.m_welcome}"
        page = client.get("/learner").text
    row = re.search(rf'<tr id="module-{world.m_welcome}"[^>]*>.*?</tr>', page, re.S).group(0)
    assert "Undo" in row and "Overdue" not in row
    assert completions(world.lea) == {world.m_welcome}


def test_cannot_touch_another_cohorts_module(world):
    with signed_in_client("lea@example.com", now=NOW) as client:
        assert post_form(client, f"/learner/modules/{world.m_beta}/done").status_code == 404
        assert post_form(client, f"/learner/modules/{world.m_beta}/done", htmx=True).status_code == 404
        assert post_form(client, "/learner/modules/999999/done").status_code == 404
    assert completions(world.lea) == set()
    # and Ben's own completion is not Lea's to undo
    with signed_in_client("ben@example.com", now=NOW) as client:
        assert post_form(client, f"/learner/modules/{world.m_beta}/done").status_code == 303
    with signed_in_client("lea@example.com", now=NOW) as client:
        assert post_form(client, f"/learner/modules/{world.m_beta}/undo").status_code == 404
    assert completions(world.ben) == {world.m_beta}


def test_mark_done_needs_the_csrf_token(world):
    with signed_in_client("lea@example.com", now=NOW) as client:
        csrf_token(client)
        assert client.post(f"/learner/modules/{world.m_tour}/done").status_code == 403
        assert client.post(f"/learner/modules/{world.m_tour}/done", headers={"HX-Request": "true"}).status_code == 403
    assert completions(world.lea) == set()


def test_other_roles_cannot_open_the_learner_page(world):
    with signed_in_client("fay@example.com", now=NOW) as client:
        assert client.get("/learner").status_code == 403
        assert post_form(client, f"/learner/modules/{world.m_tour}/done").status_code == 403
    with signed_in_client("mia@example.com", now=NOW) as client:
        assert client.get("/learner").status_code == 403
