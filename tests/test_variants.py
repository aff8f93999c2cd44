"""What-if variants through the web and a real `cadence worker`: four variants of the example cohorts (as set,
up to 2 sections, 90-minute sessions, another facilitator instead of Maya) are planned as runs of one
comparison, compared side by side, and the chosen one is published through the runs' publish path, which makes
its settings the cohorts' own; the others of that comparison are then refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from web_helpers import make_person, post_form, run, sign_in, web_client
from worker_helpers import wait_until

from models.tables import Cohort, LiveSession, Membership, Person, PlannerRun, Program
from planner import problem as p
from planner.loading import load_problem
from server.services.variants import Variant, apply_variant, variant_of

pytestmark = pytest.mark.usefixtures("worker")  # the variants are solved by a real `cadence worker` process
ATLANTIC = "Support Atlantic - March 2027"
MAYA = "maya.okafor@example.com"
OMAR = "omar.haddad@example.com"


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def world(db, examples):
    from server.services.importing import import_problem

    problem = load_problem(examples / "program.toml",
                           [examples / "cohort-atlantic.toml", examples / "cohort-apac.toml"])
    run(import_problem(problem, now=datetime(2027, 1, 10, tzinfo=UTC)))
    designer = make_person("dee@example.org", "designer", name="Dee Signer", timezone="Europe/London")
    make_person(OMAR, "facilitator", name="Omar Haddad", timezone="America/New_York", work_start="08:00",
                work_end="18:00")
    return {"designer": designer, "cohorts": run(Cohort.select(Cohort.id, Cohort.name).order_by(Cohort.name))}


def test_apply_variant_changes_only_what_it_names(examples):
    problem = load_problem(examples / "program.toml",
                           [examples / "cohort-atlantic.toml", examples / "cohort-apac.toml"])
    omar = p.Person(OMAR, "Omar Haddad", "America/New_York")
    changed = apply_variant(problem, Variant(sections=2, live_minutes=90, facilitator_in=OMAR,
                                             facilitator_out=MAYA), omar)
    assert changed.program.live_minutes == 90 and changed.program.weekly_async_minutes == 120
    atlantic = next(c for c in changed.cohorts if c.name == ATLANTIC)
    apac = next(c for c in changed.cohorts if c.name != ATLANTIC)
    assert [m.email for m in atlantic.facilitators] == [OMAR] and atlantic.max_sections == 2
    assert OMAR not in {m.email for m in apac.facilitators}  # Maya does not lead APAC: it keeps its staff
    joined = apply_variant(problem, Variant(facilitator_in=OMAR), omar)
    assert all(OMAR in {m.email for m in c.facilitators} for c in joined.cohorts)
    assert apply_variant(problem, Variant(), None) == problem


def test_variants_are_planned_compared_and_the_chosen_one_published(world):
    ids = [str(c["id"]) for c in world["cohorts"]]
    with web_client() as client:
        sign_in(client, world["designer"].email)
        form = client.get("/plans/variants?" + "&".join(f"cohort={i}" for i in ids))
        assert form.status_code == 200 and "Maya Okafor" in form.text and "Omar Haddad" in form.text
        bad = post_form(client, "/plans/variants", {"cohort": ids, "v1_on": "1", "v1_live": "0"})
        assert bad.status_code == 400 and "Variant 1: session length must be between 1 and 600." in bad.text
        assert run(PlannerRun.count()) == 0  # nothing half-written
        started = post_form(client, "/plans/variants", {
            "cohort": ids, "time_limit": "3",
            "v1_on": "1", "v1_label": "As set",
            "v2_on": "1", "v2_label": "Two sections", "v2_sections": "2",
            "v3_on": "1", "v3_label": "Longer sessions", "v3_live": "90",
            "v4_on": "1", "v4_label": "Omar leads", "v4_in": OMAR, "v4_out": MAYA,
        })
        assert started.status_code == 303, started.text[:500]
        comparison = int(started.headers["location"].rsplit("/", 1)[1])
        runs = run(PlannerRun.select().where(PlannerRun.comparison == comparison).order_by(PlannerRun.id))
        assert [variant_of(r["variant"]).label for r in runs] == ["As set", "Two sections", "Longer sessions",
                                                                   "Omar leads"]
        assert variant_of(runs[2]["variant"]).live_minutes == 90 and variant_of(runs[1]["variant"]).sections == 2
        wait_until(lambda: all(r["status"] not in ("queued", "running") for r in run(
            PlannerRun.select(PlannerRun.status).where(PlannerRun.comparison == comparison))), 180,
            "every variant to be planned")
        runs = run(PlannerRun.select().where(PlannerRun.comparison == comparison).order_by(PlannerRun.id))
        assert [r["status"] for r in runs] == ["done"] * 4, [_json(r["result"]).get("reasons") for r in runs]

        longer = _json(runs[2]["result"])
        lengths = {(datetime.fromisoformat(s["end"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(s["start"].replace("Z", "+00:00"))).seconds // 60
                   for c in longer["cohorts"] for s in c["sessions"]}
        assert lengths == {90}
        omar_plan = _json(runs[3]["result"])
        atlantic_leads = {s["facilitator"] for c in omar_plan["cohorts"] if c["name"] == ATLANTIC
                          for s in c["sessions"]}
        assert atlantic_leads == {OMAR}

        page = client.get(f"/plans/variants/{comparison}")
        assert page.status_code == 200
        for words in ("As set", "up to 2 sections", "90-min sessions", "Omar Haddad instead of Maya Okafor",
                      "Sessions per facilitator", "Omar Haddad: ", "Weeks used", "Learner-sessions outside hours"):
            assert words in page.text, words
        assert page.text.count("Publish this variant") == 4
        assert "hx-get" not in page.text.split('id="variants-status"')[1].split(">")[0]  # it stopped polling

        chosen = runs[2]["id"]
        published = post_form(client, f"/plans/{chosen}/publish")
        assert published.status_code == 303, published.text[:300]
        assert run(PlannerRun.select(PlannerRun.status).where(PlannerRun.id == chosen).first())["status"] == \
            "published"
        sessions = run(LiveSession.select(LiveSession.starts_at, LiveSession.ends_at))
        assert sessions and {(s["ends_at"] - s["starts_at"]).seconds // 60 for s in sessions} == {90}
        assert run(Program.select(Program.live_minutes).first())["live_minutes"] == 90  # adopted
        assert {c["status"] for c in run(Cohort.select(Cohort.status))} == {"published"}
        after = client.get(f"/plans/variants/{comparison}")
        assert "<strong>Published</strong>" in after.text and "Publish this variant" not in after.text

        refused = post_form(client, f"/plans/{runs[3]['id']}/publish")
        assert refused.status_code == 400
        assert f"run {chosen} of this comparison is published already" in refused.text
        maya = run(Person.select(Person.id).where(Person.email == MAYA).first())["id"]
        assert run(Membership.exists().where((Membership.person == maya) & (Membership.role == "facilitator")))


def test_a_variant_that_replaces_a_facilitator_adopts_the_membership_when_published(world):
    ids = [str(c["id"]) for c in world["cohorts"]]
    atlantic = next(c["id"] for c in world["cohorts"] if c["name"] == ATLANTIC)
    with web_client() as client:
        sign_in(client, world["designer"].email)
        started = post_form(client, "/plans/variants", {"cohort": ids, "time_limit": "2", "v1_on": "1",
                                                        "v1_in": OMAR, "v1_out": MAYA})
        assert started.status_code == 303, started.text[:300]
        comparison = int(started.headers["location"].rsplit("/", 1)[1])
        wait_until(lambda: run(PlannerRun.select(PlannerRun.status).where(PlannerRun.id == comparison).first())[
            "status"] not in ("queued", "running"), 120, "the variant to be planned")
        assert post_form(client, f"/plans/{comparison}/publish").status_code == 303
    leads = run(Membership.select(Membership.person.email.as_alias("email")).where(
        (Membership.cohort == atlantic) & (Membership.role == "facilitator")))
    assert [r["email"] for r in leads] == [OMAR]
    led = {r["email"] for r in run(LiveSession.select(LiveSession.facilitator.email.as_alias("email")).where(
        LiveSession.cohort == atlantic))}
    assert led == {OMAR}


@pytest.mark.parametrize("fields, words", [
    ({"v1_on": "1", "v1_out": MAYA}, "Variant 1: Choose who facilitates instead."),
    ({"v1_on": "1", "v1_in": "nobody@example.org"}, "No person with the email nobody@example.org."),
    ({"v1_on": "1", "v1_sections": "7"}, "Variant 1: sections must be between 1 and 3."),
    ({"v1_on": "1", "v1_async": "abc"}, "Variant 1: weekly async cap must be a whole number."),
    ({}, "Describe at least one variant"),
])
def test_bad_variants_are_one_line_400s_and_queue_nothing(world, fields, words):
    ids = [str(c["id"]) for c in world["cohorts"]]
    with web_client() as client:
        sign_in(client, world["designer"].email)
        response = post_form(client, "/plans/variants", {"cohort": ids, **fields})
        assert response.status_code == 400 and words in response.text, response.text[:2000]
        assert post_form(client, "/plans/variants", {"v1_on": "1"}).status_code == 400
    assert run(PlannerRun.count()) == 0
