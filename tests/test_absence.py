"""A facilitator is away: designers record absences on the cohort page (whole days in the facilitator's zone),
`problem_from_db` turns them into busy time, and a re-plan of a published cohort moves the sessions out of
them while held sessions stay — against the real app, database and solver."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from test_web_designer import _json, _plan, upload_files
from web_helpers import make_person, post_form, run, sign_in, web_client

from models.tables import Absence, Cohort, LiveSession, Membership, Person, PlannerRun, Program
from planner.coverage import local_midnight
from planner.solve import solve
from server.services.planning import problem_from_db
from server.services.publishing import publish_plan

pytestmark = pytest.mark.usefixtures("worker")  # web plans are solved by a real `cadence worker`

TOKYO = "Asia/Tokyo"


@pytest.fixture
def designer(db):
    return make_person("dee@example.org", "designer", name="Dee Signer", timezone="America/New_York")


def small_cohort(name: str = "Alpha", *, start: date = date(2027, 3, 8), weeks: int = 2) -> dict:
    """A draft cohort with a facilitator in Tokyo (Fay), a learner (Lea) and, in another cohort, Gus."""

    async def build() -> dict:
        program = await Program.objects().where(Program.slug == "p").first()
        if program is None:
            program = Program(slug="p", name="Program")
            await program.save()
        cohort = Cohort(program=program.id, name=name, start_date=start, weeks=weeks, timezone="Europe/London")
        await cohort.save()
        ids = {"cohort": cohort.id, "program": program.id}
        for email, role, zone in (("fay@example.org", "facilitator", TOKYO), ("lea@example.org", "learner", "UTC")):
            person = await Person.objects().where(Person.email == email).first()
            if person is None:
                person = Person(email=email, name=email.split("@")[0].title(), role=role, timezone=zone)
                await person.save()
            await Membership(cohort=cohort.id, person=person.id, role=role).save()
            ids[email.split("@")[0]] = person.id
        return ids

    return run(build())


def absences() -> list[dict]:
    return run(Absence.select().order_by(Absence.id))


# --- recording through the page -----------------------------------------------------------------------------

def test_record_an_absence_in_the_facilitators_zone_and_delete_it(designer):
    ids = small_cohort()
    with web_client() as client:
        sign_in(client, designer.email)
        page = client.get(f"/cohorts/{ids['cohort']}")
        assert page.status_code == 200
        assert "Facilitators away" in page.text and 'for="a-person"' in page.text and 'for="a-start"' in page.text
        assert "No upcoming absences." in page.text
        # the learner is not offered
        assert re.search(rf'<option value="{ids["fay"]}"', page.text)
        assert not re.search(rf'<option value="{ids["lea"]}"', page.text)

        saved = post_form(client, f"/cohorts/{ids['cohort']}/absences", {
            "person": str(ids["fay"]), "starts_on": "2099-03-10", "ends_on": "2099-03-11", "note": "conference"})
        assert saved.status_code == 200, saved.text
        assert "Absence recorded" in saved.text and "conference" in saved.text

        [row] = absences()
        # Tokyo is UTC+9: away from Tokyo midnight of the 10th through the end of the 11th
        assert row["starts_at"] == datetime(2099, 3, 9, 15, tzinfo=UTC)
        assert row["ends_at"] == datetime(2099, 3, 11, 15, tzinfo=UTC)
        assert row["starts_at"] == local_midnight(date(2099, 3, 10), TOKYO)
        assert row["person"] == ids["fay"] and row["note"] == "conference" and row["created_by"] == designer.id

        # the page lists it with the facilitator's own days
        page = client.get(f"/cohorts/{ids['cohort']}")
        assert "Fay" in page.text and "conference" in page.text and "Asia/Tokyo" in page.text
        assert "Tue 10 Mar 2099" in page.text and "Wed 11 Mar 2099" in page.text

        # htmx gets just the region
        fragment = post_form(client, f"/cohorts/{ids['cohort']}/absences", {
            "person": str(ids["fay"]), "starts_on": "2099-04-01", "ends_on": "2099-04-01"}, htmx=True)
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="absences">') and "<html" not in fragment.text
        assert len(absences()) == 2

        # delete: a plain form post comes back to the page, htmx gets the region; a second delete is 404
        first, second = (a["id"] for a in absences())
        deleted = post_form(client, f"/cohorts/{ids['cohort']}/absences/{first}/delete")
        assert deleted.status_code == 303 and deleted.headers["location"] == f"/cohorts/{ids['cohort']}#absences"
        assert [a["id"] for a in absences()] == [second]
        assert post_form(client, f"/cohorts/{ids['cohort']}/absences/{first}/delete").status_code == 404
        fragment = post_form(client, f"/cohorts/{ids['cohort']}/absences/{second}/delete", htmx=True)
        assert fragment.status_code == 200 and "Absence deleted." in fragment.text and "No upcoming absences." in fragment.text
        assert absences() == []


def test_an_absence_of_a_facilitator_of_another_cohort_cannot_be_deleted_from_this_one(designer):
    alpha = small_cohort("Alpha")

    async def outsider() -> tuple[int, int]:
        gus = Person(email="gus@example.org", name="Gus", role="facilitator", timezone="UTC")
        await gus.save()
        await Membership(cohort=alpha["cohort"], person=gus.id, role="facilitator").save()
        absence = Absence(person=gus.id, starts_at=datetime(2099, 1, 1, tzinfo=UTC),
                          ends_at=datetime(2099, 1, 2, tzinfo=UTC))
        await absence.save()
        return gus.id, absence.id

    beta = small_cohort("Beta")  # Fay runs Beta too, Gus does not
    _, absence_id = run(outsider())
    with web_client() as client:
        sign_in(client, designer.email)
        assert post_form(client, f"/cohorts/{beta['cohort']}/absences/{absence_id}/delete").status_code == 404
        assert [a["id"] for a in absences()] == [absence_id]
        assert post_form(client, f"/cohorts/{alpha['cohort']}/absences/{absence_id}/delete").status_code == 303
        assert absences() == []


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"starts_on": "2099-03-12", "ends_on": "2099-03-10"}, "ends_on", "cannot be before the first"),
    ({"person": "999999"}, "person", "Choose one of this cohort&#39;s facilitators."),
    ({"person": "lea"}, "person", "Choose one of this cohort&#39;s facilitators."),
    ({"person": "gus"}, "person", "Choose one of this cohort&#39;s facilitators."),
    ({"person": ""}, "person", "Choose the facilitator who is away."),
    ({"starts_on": "tomorrow"}, "starts_on", "expected a date like"),
    ({"ends_on": ""}, "ends_on", "Last day away is required."),
    ({"ends_on": "2101-03-10"}, "ends_on", "at most 366 days"),
    ({"note": "x" * 201}, "note", "at most 200 characters"),
])
def test_bad_absences_are_refused_next_to_the_field_and_nothing_is_saved(designer, fields, field, message):
    ids = small_cohort()
    gus = small_cohort("Beta")  # Fay and Lea again; Gus facilitates only Gamma
    run(Person(email="gus@example.org", name="Gus", role="facilitator").save())
    gus_id = run(Person.select(Person.id).where(Person.email == "gus@example.org").first())["id"]
    run(Membership(cohort=gus["cohort"], person=gus_id, role="facilitator").save())
    data = {"person": str(ids["fay"]), "starts_on": "2099-03-10", "ends_on": "2099-03-11", **fields}
    data["person"] = {"lea": str(ids["lea"]), "gus": str(gus_id)}.get(data["person"], data["person"])
    with web_client() as client:
        sign_in(client, designer.email)
        refused = post_form(client, f"/cohorts/{ids['cohort']}/absences", data)
        assert refused.status_code == 400
        error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>', refused.text)
        assert error and message in error.group(1), refused.text[-3000:]
        assert f'aria-describedby="{field}-error"' in refused.text
        # htmx: the region with the message, status 200 so htmx swaps it
        fragment = post_form(client, f"/cohorts/{ids['cohort']}/absences", data, htmx=True)
        assert fragment.status_code == 200 and f'id="{field}-error"' in fragment.text
    assert absences() == []


def test_absence_routes_are_for_designers_only(designer):
    ids = small_cohort()
    make_person("fay2@example.org", "facilitator")
    with web_client() as client:
        sign_in(client, "fay2@example.org")
        refused = post_form(client, f"/cohorts/{ids['cohort']}/absences", {
            "person": str(ids["fay"]), "starts_on": "2099-03-10", "ends_on": "2099-03-11"})
        assert refused.status_code == 403
    assert absences() == []


# --- into the planning problem ------------------------------------------------------------------------------

def test_problem_from_db_turns_overlapping_absences_into_busy_time(db):
    ids = small_cohort(start=date(2027, 3, 8), weeks=2)  # window: 8 Mar - 22 Mar 2027, London midnights

    async def record() -> None:
        at = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
        await Absence.insert(
            Absence(person=ids["fay"], starts_at=at(2027, 3, 9, 15), ends_at=at(2027, 3, 10, 15), note="dentist"),
            Absence(person=ids["fay"], starts_at=at(2027, 3, 15), ends_at=at(2027, 3, 16)),  # no note
            Absence(person=ids["fay"], starts_at=at(2027, 4, 1), ends_at=at(2027, 4, 3)),  # after the window
            Absence(person=ids["fay"], starts_at=at(2027, 2, 1), ends_at=at(2027, 3, 8)),  # ends as it starts
            Absence(person=ids["lea"], starts_at=at(2027, 3, 9), ends_at=at(2027, 3, 10)),  # not a facilitator
        )

    run(record())
    problem = run(problem_from_db([ids["cohort"]], now=datetime(2026, 11, 1, tzinfo=UTC)))
    assert [(b.email, b.start, b.end, b.reason) for b in problem.busy] == [
        ("fay@example.org", datetime(2027, 3, 9, 15, tzinfo=UTC), datetime(2027, 3, 10, 15, tzinfo=UTC),
         "away: dentist"),
        ("fay@example.org", datetime(2027, 3, 15, tzinfo=UTC), datetime(2027, 3, 16, tzinfo=UTC), "away"),
    ]
    # what is already past is not planned around: the absence counts from `now` on
    later = run(problem_from_db([ids["cohort"]], now=datetime(2027, 3, 10, 3, tzinfo=UTC)))
    assert [(b.start, b.end) for b in later.busy if b.reason != "already past"] == [
        (datetime(2027, 3, 10, 3, tzinfo=UTC), datetime(2027, 3, 10, 15, tzinfo=UTC)),
        (datetime(2027, 3, 15, tzinfo=UTC), datetime(2027, 3, 16, tzinfo=UTC)),
    ]
    # ...and the time before `now` is busy for the facilitator (a draft cohort has no held sessions)
    assert [(b.start, b.end) for b in later.busy if b.reason == "already past"] == [
        (datetime(2027, 3, 8, tzinfo=UTC), datetime(2027, 3, 10, 3, tzinfo=UTC)),
    ]


# --- the re-plan ---------------------------------------------------------------------------------------------

def atlantic_started_two_weeks_ago(examples) -> bytes:
    """The example Atlantic cohort, moved so that its first two weeks are over (their sessions are held)."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday() + 14)
    text = (examples / "cohort-atlantic.toml").read_text()
    text = re.sub(r"(?m)^start = .*$", f"start = {start.isoformat()}", text)
    text = re.sub(r"(?m)^blackout = .*$", "blackout = []", text)
    return text.encode()


def scheduled_sessions(cohort_id: int) -> list[dict]:
    return run(LiveSession.select(
        LiveSession.key, LiveSession.starts_at, LiveSession.ends_at, LiveSession.facilitator, LiveSession.sequence,
        LiveSession.status,
    ).where(LiveSession.cohort == cohort_id).order_by(LiveSession.starts_at))


def test_replan_moves_a_session_out_of_a_new_absence_and_keeps_held_ones(designer, examples):
    files = [f for f in upload_files(examples, with_roster=False) if f[0] == "program"]
    files.append(("cohorts", ("cohort-atlantic.toml", atlantic_started_two_weeks_ago(examples), "application/toml")))
    with web_client() as client:
        sign_in(client, designer.email)
        uploaded = post_form(client, "/programs/upload", files=files)
        assert uploaded.status_code == 200, uploaded.text
    cohort = run(Cohort.select().first())
    # The first plan was made and published before the cohort began (the web flow plans from today, and never
    # into the past), so its first two weeks now hold sessions that were held. Done with no app running: on
    # PostgreSQL the app's pool belongs to the TestClient's event loop.
    before_start = local_midnight(cohort["start_date"], cohort["timezone"]) - timedelta(days=1)
    first_plan = solve(run(problem_from_db([cohort["id"]], now=before_start)), time_limit=3)
    run(publish_plan(first_plan, [cohort["id"]], now=before_start))

    with web_client() as client:
        sign_in(client, designer.email)

        maya = run(Person.select().where(Person.email == "maya.okafor@example.com").first())
        before = scheduled_sessions(cohort["id"])
        now = datetime.now(UTC)
        held = [s for s in before if s["starts_at"] < now]
        assert held, "the cohort started two weeks ago: some sessions are held"
        # a session of the first week that lies wholly ahead (none of its days is over yet)
        week_starts = [local_midnight(cohort["start_date"] + timedelta(days=7 * w), cohort["timezone"])
                       for w in range(cohort["weeks"])]
        ahead = min(w for w in week_starts if w > now)
        target = next(s for s in before if s["starts_at"] >= ahead and s["facilitator"] == maya["id"])
        away_day = target["starts_at"].astimezone(ZoneInfo(maya["timezone"])).date()

        recorded = post_form(client, f"/cohorts/{cohort['id']}/absences", {
            "person": str(maya["id"]), "starts_on": away_day.isoformat(), "ends_on": away_day.isoformat(),
            "note": "family event"})
        assert recorded.status_code == 200 and "Absence recorded" in recorded.text
        [absence] = absences()

        second = _plan(client, [cohort["id"]])
        row = run(PlannerRun.select().where(PlannerRun.id == second).first())
        assert row["status"] == "done", row["result"]
        changes = _json(row["changes"])
        moved = [line for line in changes if f"{target['key']} moves from" in line]
        assert moved and "because maya.okafor@example.com is away: family event" in moved[0], changes
        page = client.get(f"/plans/{second}")
        assert "What this re-plan changes" in page.text and str(escape(moved[0])) in page.text
        assert "Absences this plan avoids" in page.text and "is away: family event from" in page.text

        assert post_form(client, f"/plans/{second}/publish").status_code == 303
        after = scheduled_sessions(cohort["id"])
        published = client.get(f"/plans/{second}")
        assert "What changed" in published.text and f"session {target['key']} moved from" in published.text
        assert "Absences this plan avoids" in published.text

    # no scheduled session of Maya overlaps the absence
    clashes = [s for s in after if s["status"] == "scheduled" and s["facilitator"] == maya["id"]
               and s["starts_at"] < absence["ends_at"] and absence["starts_at"] < s["ends_at"]]
    assert clashes == []
    # the held sessions are exactly as they were
    by_key = {s["key"]: s for s in after}
    assert [by_key[s["key"]] for s in held] == held
    # the session moved, kept its identity and told calendars so
    moved_row = by_key[target["key"]]
    assert moved_row["starts_at"] != target["starts_at"] and moved_row["sequence"] == target["sequence"] + 1
    assert moved_row["starts_at"] > now, "a session not yet held never moves into the past"


# --- a facilitator's own absences on /profile ------------------------------------------------------------------

def test_a_facilitator_records_and_deletes_their_own_absence_on_the_profile(db):
    ids = small_cohort()
    run(Person.update({Person.password_hash: make_person("x@example.org").password_hash}).where(
        Person.id == ids["fay"]))  # Fay (Tokyo) can sign in with the test password
    with web_client() as client:
        sign_in(client, "fay@example.org")
        page = client.get("/profile")
        assert "When I'm away" in page.text and 'for="my-start"' in page.text and "No upcoming absences." in page.text

        refused = post_form(client, "/profile/absences", {"starts_on": "2099-05-03", "ends_on": "2099-05-01"})
        assert refused.status_code == 400 and 'id="ends_on-error"' in refused.text
        assert "cannot be before the first" in refused.text
        assert absences() == []

        saved = post_form(client, "/profile/absences", {"starts_on": "2099-05-01", "ends_on": "2099-05-01",
                                                          "note": "moving house"})
        assert saved.status_code == 303 and saved.headers["location"] == "/profile#away"
        [row] = absences()
        assert (row["person"], row["created_by"], row["note"]) == (ids["fay"], ids["fay"], "moving house")
        assert (row["starts_at"], row["ends_at"]) == (local_midnight(date(2099, 5, 1), TOKYO),
                                                      local_midnight(date(2099, 5, 2), TOKYO))
        page = client.get("/profile")
        assert "Fri 1 May 2099" in page.text and "moving house" in page.text

        # someone else's absence is not theirs to delete
        run(Absence(person=ids["lea"], starts_at=row["starts_at"], ends_at=row["ends_at"]).save())
        other = [a["id"] for a in absences() if a["person"] == ids["lea"]][0]
        assert post_form(client, f"/profile/absences/{other}/delete").status_code == 404
        fragment = post_form(client, f"/profile/absences/{row['id']}/delete", htmx=True)
        assert fragment.status_code == 200 and "Absence deleted." in fragment.text
        assert fragment.text.lstrip().startswith("<section") and "<html" not in fragment.text
        assert [a["id"] for a in absences()] == [other]


def test_learners_have_no_absences_on_their_profile(db):
    make_person("lee@example.org", "learner")
    with web_client() as client:
        sign_in(client, "lee@example.org")
        assert "When I'm away" not in client.get("/profile").text
        refused = post_form(client, "/profile/absences", {"starts_on": "2099-05-01", "ends_on": "2099-05-01"})
        assert refused.status_code == 403
    assert absences() == []
