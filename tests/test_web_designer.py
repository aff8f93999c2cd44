"""Designer pages against the real app, database and solver: upload, units inline, cohorts, plan, publish,
re-plan."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from markupsafe import escape
from web_helpers import make_person, page_text, post_form, run, sign_in, web_client

from models.tables import (
    Absence,
    Cohort,
    LiveSession,
    Membership,
    Person,
    PlannerRun,
    Program,
    Unit,
    UnitRequirement,
)

TIME_LIMIT = "3"
pytestmark = pytest.mark.usefixtures("worker")  # plans are solved by a real `cadence worker` process


def upload_files(examples, *, program_text: bytes | None = None, with_roster: bool = True):
    files = [
        ("program", ("program.toml", program_text or (examples / "program.toml").read_bytes(), "application/toml")),
        ("cohorts", ("cohort-apac.toml", (examples / "cohort-apac.toml").read_bytes(), "application/toml")),
        ("cohorts", ("cohort-atlantic.toml", (examples / "cohort-atlantic.toml").read_bytes(), "application/toml")),
    ]
    if with_roster:
        files.append(("rosters", ("roster-apac.csv", (examples / "roster-apac.csv").read_bytes(), "text/csv")))
    return files


@pytest.fixture
def designer(db):
    return make_person("dee@example.org", "designer", name="Dee Signer", timezone="America/New_York")


def test_upload_examples_creates_program_and_cohorts(designer, examples):
    with web_client() as client:
        sign_in(client, designer.email)
        response = post_form(client, "/programs/upload", files=upload_files(examples))
        assert response.status_code == 200, response.text
        assert "Imported" in response.text
        assert "Support APAC - March 2027" in response.text
        programs = client.get("/programs")
        assert "Customer Support Onboarding" in programs.text
        cohorts = client.get("/cohorts")
        assert "Support Atlantic - March 2027" in cohorts.text
        atlantic = run(Cohort.select().where(Cohort.name == "Support Atlantic - March 2027").first())
        page = client.get(f"/cohorts/{atlantic['id']}")
        # the roster shows each person's zone and hours
        assert "Lukas Weber" in page.text and "Europe/Berlin" in page.text and "08:30–16:30" in page_text(page)
    assert run(Program.count()) == 1
    assert run(Cohort.count()) == 2
    assert run(Membership.count()) > 5


def test_bad_upload_shows_one_line_and_saves_nothing(designer, examples):
    broken = (examples / "program.toml").read_bytes().replace(b'minutes = 45', b'minutes = "lots"', 1)
    with web_client() as client:
        sign_in(client, designer.email)
        response = post_form(client, "/programs/upload", files=upload_files(examples, program_text=broken))
        assert response.status_code == 400
        message = re.search(r'<pre class="errors">(.*?)</pre>', response.text, re.S).group(1)
        assert message.startswith("program.toml: ")
        assert "\n" not in message.strip()
        assert "Nothing was saved" in response.text

        missing_roster = post_form(client, "/programs/upload", files=upload_files(examples, with_roster=False))
        assert missing_roster.status_code == 400
        assert "cohort-apac.toml" in missing_roster.text
    assert run(Program.count()) == 0
    assert run(Cohort.count()) == 0
    assert run(Person.count()) == 1  # just the designer


def test_program_create_and_units_inline(designer):
    with web_client() as client:
        sign_in(client, designer.email)
        bad = post_form(client, "/programs", {"name": "", "slug": "Bad Slug!"})
        assert bad.status_code == 400
        assert "Name is required" in bad.text and "lowercase letters" in bad.text

        created = post_form(client, "/programs", {"name": "Sales Basics", "slug": "sales-basics"})
        assert created.status_code == 303
        program_url = created.headers["location"]
        program_id = int(program_url.rsplit("/", 1)[1])

        # htmx inline add with a validation error: 200, just the fragment, the message next to the field
        invalid = post_form(client, f"{program_url}/units", {"title": "", "minutes": "0", "mode": "async"},
                            htmx=True)
        assert invalid.status_code == 200
        assert invalid.text.lstrip().startswith('<div id="units">')
        assert 'id="title-error"' in invalid.text and "Title is required" in invalid.text
        assert "Minutes must be between 1 and 600" in invalid.text

        first = post_form(client, f"{program_url}/units", {"title": "Welcome", "minutes": "10", "mode": "async"},
                          htmx=True)
        assert "Added “Welcome”" in page_text(first)
        welcome = run(Unit.select().where(Unit.slug == "welcome").first())
        second = post_form(client, f"{program_url}/units", {"title": "Kickoff", "minutes": "60", "mode": "live",
                                                           "requires": [str(welcome["id"])]}, htmx=True)
        assert second.status_code == 200
        kickoff = run(Unit.select().where(Unit.slug == "kickoff").first())

        unknown = post_form(client, f"{program_url}/units", {"title": "X", "minutes": "5", "mode": "async",
                                                            "requires": ["99999"]}, htmx=True)
        assert "Unknown prerequisite" in unknown.text

        # welcome requiring kickoff would close a cycle: refused (plain form post: the whole page, 400)
        cycle = post_form(client, f"{program_url}/units/{welcome['id']}",
                          {"title": "Welcome", "minutes": "10", "mode": "async", "requires": [str(kickoff["id"])]})
        assert cycle.status_code == 400
        assert "That would make a cycle" in cycle.text
        assert run(UnitRequirement.count()) == 1

        extra = post_form(client, f"{program_url}/units", {"title": "Extra", "minutes": "5", "mode": "either"})
        assert extra.status_code == 200
        extra_id = run(Unit.select(Unit.id).where(Unit.slug == "extra").first())["id"]
        removed = post_form(client, f"{program_url}/units/{extra_id}/delete", htmx=True)
        assert removed.status_code == 200 and "Extra" not in removed.text and "Kickoff" in removed.text
    assert run(Unit.count().where(Unit.program == program_id)) == 2
    assert run(UnitRequirement.count()) == 1


def test_cohort_create_and_add_members(designer):
    with web_client() as client:
        sign_in(client, designer.email)
        program = post_form(client, "/programs", {"name": "Sales Basics", "slug": "sales-basics"})
        program_id = program.headers["location"].rsplit("/", 1)[1]
        bad = post_form(client, "/cohorts", {"program": program_id, "name": "Spring", "start_date": "2027-13-01",
                                             "weeks": "4", "timezone": "Nowhere/City"})
        assert bad.status_code == 400
        assert "expected a date" in bad.text and "Nowhere/City is not a time zone" in bad.text
        created = post_form(client, "/cohorts", {"program": program_id, "name": "Spring", "start_date": "2027-03-01",
                                                 "weeks": "4", "timezone": "Europe/London"})
        assert created.status_code == 303
        cohort_url = created.headers["location"]

        added = post_form(client, f"{cohort_url}/members", {
            "email": "ana@example.org", "name": "Ana Lima", "role": "learner", "timezone": "America/Sao_Paulo",
            "work_start": "10:00", "work_end": "18:00", "work_days": ["Mon", "Tue", "Wed", "Thu", "Fri"]},
            htmx=True)
        assert added.status_code == 200
        assert "Added Ana Lima" in added.text and "America/Sao_Paulo" in added.text and "10:00–18:00" in page_text(added)
        again = post_form(client, f"{cohort_url}/members", {
            "email": "ana@example.org", "name": "Ana Lima", "role": "learner", "timezone": "UTC",
            "work_days": ["Mon"], "manager": "nobody@example.org"}, htmx=True)
        assert "No person with the email nobody@example.org" in again.text
    ana = run(Person.select().where(Person.email == "ana@example.org").first())
    assert (ana["timezone"], ana["work_start"], ana["work_days"], ana["password_hash"]) == (
        "America/Sao_Paulo", "10:00", "Mon-Fri", "")
    assert run(Membership.count()) == 1


def test_people_admin_create_and_reset_password(designer):
    with web_client() as client:
        sign_in(client, designer.email)
        short = post_form(client, "/people", {"email": "new@example.org", "name": "New", "role": "facilitator",
                                              "timezone": "UTC", "password": "short"})
        assert short.status_code == 400 and "at least 10 characters" in short.text
        ok = post_form(client, "/people", {"email": "new@example.org", "name": "New Person", "role": "facilitator",
                                           "timezone": "Asia/Tokyo", "password": "first-password-1"})
        assert ok.status_code == 200 and "Created New Person" in ok.text
        person = run(Person.select().where(Person.email == "new@example.org").first())
        reset = post_form(client, f"/people/{person['id']}/password", {"password": "second-password-2"})
        assert "New password set" in reset.text
    with web_client() as client:
        assert sign_in(client, "new@example.org", "first-password-1").status_code == 401
        assert sign_in(client, "new@example.org", "second-password-2").status_code == 303


def test_the_people_list_comes_in_pages_by_name_and_can_be_searched(designer):
    from server.services.people import PEOPLE_PAGE

    run(Person.insert(*[Person(email=f"p{i:03d}@example.org", name=f"Person {i:03d}", role="learner")
                        for i in range(PEOPLE_PAGE + 10)]))
    run(Person.insert(Person(email="odd@example.org", name="100%_done", role="learner")))
    total = PEOPLE_PAGE + 12  # with Dee and "100%_done"
    names = lambda html: re.findall(r"<td>([^<]+)<br><small>", html)  # noqa: E731
    with web_client() as client:
        sign_in(client, designer.email)
        first, second = client.get("/people"), client.get("/people?page=2")
        found, literal = client.get("/people?q=PERSON 05"), client.get("/people?q=%25_")
        past, nobody = client.get("/people?page=9"), client.get("/people?q=zzz&page=3")  # counts read apart
        late = run(Person.select(Person.id).where(Person.email == "p055@example.org").first())["id"]
        short = post_form(client, f"/people/{late}/password", {"password": "short"})
    everyone = sorted(["100%_done", "Dee Signer"] + [f"Person {i:03d}" for i in range(PEOPLE_PAGE + 10)])
    assert names(first.text) == everyone[:PEOPLE_PAGE] and f"People 1–{PEOPLE_PAGE} of {total}" in page_text(first)
    assert 'href="/people?page=2" rel="next"' in first.text
    assert names(second.text) == everyone[PEOPLE_PAGE:] and "Page 2 of 2" in second.text
    assert names(found.text) == [f"Person {i:03d}" for i in range(50, 60)] and f"({total} in all)" in found.text
    assert names(literal.text) == ["100%_done"]  # % and _ are matched as themselves
    assert names(past.text) == everyone[PEOPLE_PAGE:] and "Page 2 of 2" in past.text  # past the end: the last
    assert names(nobody.text) == [] and "Nobody matches “zzz”." in page_text(nobody) and ">Show everyone</a>" in nobody.text
    # an error about someone on page 2 shows their row with it
    assert short.status_code == 400 and names(short.text) == ["Person 055"] and "at least 10 characters" in short.text


def _plan(client, cohort_ids: list[int]) -> int:
    started = post_form(client, "/plans", {"cohort": [str(i) for i in cohort_ids], "time_limit": TIME_LIMIT})
    assert started.status_code == 303, started.text
    run_url = started.headers["location"]
    run_id = int(run_url.rsplit("/", 1)[1])
    # the page's poll answers with the fragment; the state lives in the database, so the run ends once stored
    fragment = client.get(f"{run_url}/status", headers={"HX-Request": "true"})
    assert fragment.status_code == 200, (fragment.status_code, fragment.text[:300])
    wait_for_run(run_id)
    fragment = client.get(f"{run_url}/status", headers={"HX-Request": "true"})
    assert "Planning…" not in page_text(fragment)
    return run_id


def wait_for_run(run_id: int, deadline_seconds: float = 120) -> None:
    """Block until the run's row leaves queued/running (the worker stores it), or fail at the deadline."""
    from worker_helpers import wait_until

    wait_until(lambda: run(PlannerRun.select(PlannerRun.status).where(PlannerRun.id == run_id).first())["status"]
               not in ("queued", "running"), deadline_seconds, f"planner run {run_id} to finish")


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_plan_poll_publish_and_replan(designer, examples):
    with web_client() as client:
        sign_in(client, designer.email)
        assert post_form(client, "/programs/upload", files=upload_files(examples)).status_code == 200
        cohorts = run(Cohort.select(Cohort.id, Cohort.name).order_by(Cohort.name))
        ids = [c["id"] for c in cohorts]

        run_id = _plan(client, ids)
        page = client.get(f"/plans/{run_id}")
        assert page.status_code == 200
        row = run(PlannerRun.select().where(PlannerRun.id == run_id).first())
        assert row["status"] == "done", row["result"]
        assert "Week 1" in page.text and "Coverage" in page.text and "Gap to bound" in page.text
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", page.text)
        assert "Publish this plan" in page.text
        program_id = run(Cohort.select(Cohort.program).first())["program"]
        program_page = client.get(f"/programs/{program_id}").text
        assert "its units are fixed" not in program_page
        assert ">Plan</button>" in program_page and "Re-plan" not in program_page  # nothing published yet

        published = post_form(client, f"/plans/{run_id}/publish")
        assert published.status_code == 303
        assert "its units are fixed" in client.get(f"/programs/{program_id}").text  # a published cohort locks them
        assert run(LiveSession.count()) > 0
        assert {c["status"] for c in run(Cohort.select(Cohort.status))} == {"published"}
        cohort_page = client.get(f"/cohorts/{ids[0]}")
        assert "Nothing published yet" not in cohort_page.text
        assert "Re-plan" in cohort_page.text and ">Plan</button>" not in cohort_page.text

        # a learner joins one cohort, then a re-plan shows what changes before it is published
        atlantic = next(c for c in cohorts if "Atlantic" in c["name"])
        post_form(client, f"/cohorts/{atlantic['id']}/members", {
            "email": "new.learner@example.com", "name": "New Learner", "role": "learner",
            "timezone": "America/Chicago", "work_start": "08:00", "work_end": "16:00",
            "work_days": ["Mon", "Tue", "Wed", "Thu", "Fri"]})
        # ... and the facilitator of its first session is away just then, so that session has to change
        first = run(LiveSession.select().where(LiveSession.cohort == atlantic["id"]).order_by(
            LiveSession.starts_at).first())
        run(Absence(person=first["facilitator"], starts_at=first["starts_at"], ends_at=first["ends_at"],
                    note="dentist").save())
        second = _plan(client, ids)
        replan = client.get(f"/plans/{second}")
        row = run(PlannerRun.select().where(PlannerRun.id == second).first())
        assert row["status"] == "done", row["result"]
        changes = _json(row["changes"])
        assert any(line.startswith(f"{atlantic['name']}: {first['key']} ") for line in changes), changes
        assert "What this re-plan changes" in replan.text and "Nothing moves" not in replan.text
        assert all(str(escape(line)) in replan.text for line in changes)
        before_sessions = run(LiveSession.count())
        republished = post_form(client, f"/plans/{second}/publish")
        assert republished.status_code == 303
        after = client.get(f"/plans/{second}")
        assert "Published." in after.text
        assert "What changed" in after.text
        row = run(PlannerRun.select().where(PlannerRun.id == second).first())
        assert row["status"] == "published"
        assert _json(row["changes"]), "publishing a re-plan reports what changed"
        assert run(LiveSession.count()) >= before_sessions  # sessions are cancelled, never deleted


def test_a_run_whose_worker_vanished_is_queued_again_then_failed_with_the_reason(designer):
    from datetime import UTC, datetime, timedelta

    from server.services.planner_runs import reap_stale_runs

    now = datetime.now(UTC)
    program = run(Program.insert(Program(slug="p", name="P")).returning(Program.id))[0]["id"]
    silent = now - timedelta(minutes=5)
    retry = PlannerRun(program=program, cohort_names=["X"], status="running", time_limit=5, started_at=silent,
                       heartbeat_at=silent, claimed_by="gone:1", attempts=1)
    spent = PlannerRun(program=program, cohort_names=["X"], status="running", time_limit=5, started_at=silent,
                       heartbeat_at=silent, claimed_by="gone:2", attempts=3)
    alive = PlannerRun(program=program, cohort_names=["X"], status="running", time_limit=5, started_at=silent,
                       heartbeat_at=now, claimed_by="here:3", attempts=1)
    for row in (retry, spent, alive):
        run(row.save())

    again = run(reap_stale_runs(now=now, stale_after=timedelta(seconds=30), attempts=3))
    assert again == [retry.id]
    assert run(reap_stale_runs(now=now, stale_after=timedelta(seconds=30), attempts=3)) == []  # idempotent
    status = {r["id"]: r for r in run(PlannerRun.select())}
    assert status[retry.id]["status"] == "queued" and status[retry.id]["claimed_by"] == ""
    assert status[spent.id]["status"] == "failed" and status[alive.id]["status"] == "running"
    with web_client() as client:
        sign_in(client, designer.email)
        page = client.get(f"/plans/{spent.id}")
        queued = client.get(f"/plans/{retry.id}")
    assert page.status_code == 200
    assert "The planner failed" in page.text and "Planning…" not in page_text(page)
    assert "gone:2 stopped responding" in page.text and "tried 3 times" in page.text
    assert "waiting for a worker" in queued.text and "Cancel" in queued.text


def test_server_error_page_has_no_traceback(designer):
    program = run(Program.insert(Program(slug="p", name="P")).returning(Program.id))[0]["id"]
    broken = PlannerRun(program=program, cohort_names=["X"], status="done", result={"cohorts": [{"name": "X"}]})
    run(broken.save())
    with web_client() as client:
        sign_in(client, designer.email)
        page = client.get(f"/plans/{broken.id}")
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    assert "Traceback" not in page.text and "KeyError" not in page.text


def test_infeasible_plan_shows_the_reasons(designer):
    with web_client() as client:
        sign_in(client, designer.email)
        program_url = post_form(client, "/programs", {"name": "Tiny", "slug": "tiny"}).headers["location"]
        post_form(client, f"{program_url}/units", {"title": "Talk", "minutes": "60", "mode": "live"})
        cohort_url = post_form(client, "/cohorts", {"program": program_url.rsplit("/", 1)[1], "name": "Lonely",
                                                    "start_date": "2027-03-01", "weeks": "1",
                                                    "timezone": "UTC"}).headers["location"]
        post_form(client, f"{cohort_url}/members", {"email": "solo@example.org", "name": "Solo", "role": "learner",
                                                    "timezone": "UTC", "work_days": ["Mon", "Tue"]})
        run_id = _plan(client, [int(cohort_url.rsplit("/", 1)[1])])
        page = client.get(f"/plans/{run_id}")
    row = run(PlannerRun.select().where(PlannerRun.id == run_id).first())
    assert row["status"] == "infeasible"
    reasons = _json(row["result"])["reasons"]
    assert reasons
    assert "No plan satisfies every rule" in page.text
    assert all(str(escape(reason)) in page.text for reason in reasons)
    assert "Publish this plan" not in page.text


def test_program_form_limits_are_the_program_files(designer):
    """The file loader needs weekly_async_minutes >= 1 and live sessions of 1-600 minutes; so does the form."""
    with web_client() as client:
        sign_in(client, designer.email)
        zero = post_form(client, "/programs", {"name": "Zero", "slug": "zero", "weekly_async_minutes": "0"})
        assert zero.status_code == 400 and "Async minutes per week must be between 1 and 10080" in zero.text
        long = post_form(client, "/programs", {"name": "Long", "slug": "long", "live_minutes": "600"})
        assert long.status_code == 303
    assert run(Program.select(Program.live_minutes).where(Program.slug == "long").first())["live_minutes"] == 600


def test_a_big_cohort_roster_comes_in_pages_with_staff_first(designer):
    from models.tables import Cohort, Program
    from server.services.cohorts import MEMBERS_PAGE

    program = run(Program.insert(Program(name="Big program")))[0]["id"]
    cohort = run(Cohort.insert(Cohort(program=program, name="Big cohort", start_date=date(2027, 3, 1), weeks=4)))[0]["id"]
    run(Person.insert(*[Person(email=f"m{i:03d}@example.org", name=f"Member {i:03d}", role="learner")
                        for i in range(MEMBERS_PAGE + 5)], Person(email="zed@example.org", name="Zed Staff",
                                                                   role="facilitator")))
    people = {r["email"]: r["id"] for r in run(Person.select(Person.id, Person.email))}
    run(Membership.insert(*[Membership(cohort=cohort, person=pid, role="facilitator" if email == "zed@example.org"
                                       else "learner") for email, pid in people.items() if email != designer.email]))
    names = lambda html: re.findall(r"<tr>\s*<td>([^<]+)<br><small>", html)  # noqa: E731
    with web_client() as client:
        sign_in(client, designer.email)
        first, second = client.get(f"/cohorts/{cohort}"), client.get(f"/cohorts/{cohort}?page=2")
        found = client.get(f"/cohorts/{cohort}?q=member 05")
    assert first.status_code == 200 and f"{MEMBERS_PAGE + 5} learners, 1 facilitators" in first.text
    assert names(first.text)[:2] == ["Zed Staff", "Member 000"] and len(names(first.text)) == MEMBERS_PAGE
    assert f"Members 1–{MEMBERS_PAGE} of {MEMBERS_PAGE + 6}" in page_text(first) and '?page=2" rel="next"' in first.text
    assert names(second.text) == [f"Member {i:03d}" for i in range(MEMBERS_PAGE - 1, MEMBERS_PAGE + 5)]
    assert names(found.text) == [f"Member {i:03d}" for i in range(50, 55)]
    assert f"{MEMBERS_PAGE + 5} learners" in found.text  # the counts are the cohort's, not the page's


def test_a_cohort_roster_pages_by_name_in_any_case_and_counts_the_whole_cohort(designer):
    """Sorted, filtered, counted and cut in SQL: the same order as by name in Python, whatever the case."""
    from models.tables import Cohort, Program
    from server.services.cohorts import MEMBERS_PAGE, members_page

    program = run(Program.insert(Program(name="Case program")))[0]["id"]
    cohort = run(Cohort.insert(Cohort(program=program, name="Case cohort", start_date=date(2027, 3, 1), weeks=4)))[0]["id"]
    names = [f"{'ABCDEFGHIJ'[i % 10] if i % 2 else 'abcdefghij'[i % 10]}{i:03d} Person" for i in range(MEMBERS_PAGE + 7)]
    run(Person.insert(*[Person(email=f"c{i:03d}@example.org", name=name, role="learner") for i, name in enumerate(names)],
                      Person(email="boss@example.org", name="zz Boss", role="manager")))
    people = {r["email"]: r["id"] for r in run(Person.select(Person.id, Person.email).where(Person.email.like("%.org")))}
    run(Membership.insert(*[Membership(cohort=cohort, person=pid, role="manager" if email == "boss@example.org"
                                       else "learner") for email, pid in people.items() if email != designer.email]))
    expected = ["zz Boss"] + sorted(names, key=str.lower)
    first, second, past = (run(members_page(cohort, page)) for page in (1, 2, 9))
    assert [r["name"] for r in first.rows + second.rows] == expected
    assert (second.page, second.pages, second.matching, second.total, second.learners) == (2, 2, 58, 58, 57)
    assert [r["name"] for r in past.rows] == expected[MEMBERS_PAGE:] and past.page == 2
    found = run(members_page(cohort, 1, "  a0"))
    assert [r["name"] for r in found.rows] == [n for n in expected if "a0" in n.lower()] and found.total == 58
    nobody = run(members_page(cohort, 3, "100%"))
    assert (nobody.rows, nobody.matching, nobody.page, nobody.pages, nobody.total) == ([], 0, 1, 1, 58)
