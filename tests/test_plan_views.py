"""Seeing a plan: the heat map's numbers are the planner's own coverage for the same instants (DST weeks
included), the week calendar's blocks carry their units' titles and the share inside hours, the pages show both
for a run and for a published cohort in any zone, and bad queries are one-line 400s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pytest
from web_helpers import make_person, page_text, run, sign_in, web_client

from models.tables import Cohort, PlannerRun
from planner import plan as pl
from planner.coverage import cohort_window, inside_hours
from planner.loading import load_problem
from planner.slots import grid_index, inside_starts, profiles
from planner.validate import recompute_coverage
from server.services import plan_comparison, plan_heat, plan_views
from server.services.labels import plan_session_label, session_label

ATLANTIC = "Support Atlantic - March 2027"
NOW = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


@lru_cache(maxsize=1)
def atlantic() -> tuple:
    """The example Atlantic cohort (London home, learners from Chicago to Dubai: US clocks change in its week
    1, European ones in week 3) and a plan for it from the real solver."""
    from conftest import EXAMPLES

    from planner.solve import solve

    problem = load_problem(EXAMPLES / "program.toml", [EXAMPLES / "cohort-atlantic.toml"])
    return problem, solve(problem, time_limit=3, workers=1)


def people_of(problem) -> dict:
    return {m.email: m.person for c in problem.cohorts for m in c.members}


def titles_of(problem) -> dict:
    return {u.id: u.title for u in problem.program.units}


def test_session_labels_name_units_by_title_in_order_each_once():
    assert session_label(["Kickoff"]) == "Kickoff"
    assert session_label(["Difficult calls", "Difficult calls", "Case review"]) == "Difficult calls · Case review"
    assert session_label([]) == "Live session"
    assert session_label(list("ABCDE")) == "A · B · C + 2 more"
    assert plan_session_label(["kickoff", "gone"], {"kickoff": "Kickoff"}) == "Kickoff · gone"


@pytest.mark.parametrize("zone_name", ["UTC", "America/Chicago", "Asia/Dubai"])
def test_heat_map_counts_are_the_planners_coverage_for_every_cell_dst_weeks_included(zone_name):
    problem, plan = atlantic()
    cohort = problem.cohorts[0]
    first, last = cohort_window(cohort)
    minutes = problem.program.live_minutes
    groups = profiles(cohort)
    weeks_changed = plan_views.weeks_with_changes(cohort, {m.person.timezone for m in cohort.members})
    assert {1, 3} <= weeks_changed  # US clocks go forward on 14 March, European ones on 28 March
    checked = 0
    for number in range(1, cohort.weeks + 1):
        week = plan_views.week_of(cohort, number, zone_name, {m.person.timezone for m in cohort.members})
        heat = plan_heat.heat_map(cohort, plan.cohort(cohort.name), week, minutes, people_of(problem),
                                   titles_of(problem))
        for row in heat.grid:
            for cells in row:
                for cell in cells:
                    # the CP-SAT model's view: a profile is inside at grid start i (planner.slots.inside_starts)
                    model = sum(g.size for g in groups
                                if grid_index(cell.start) in inside_starts(g.person.timezone, g.person.hours,
                                                                            first, last, minutes))
                    # the validator's view: every learner, inside_hours on the actual date
                    end = cell.start + timedelta(minutes=minutes)
                    direct = sum(inside_hours(m.person, cell.start, end) for m in cohort.learners)
                    if end <= last:
                        assert cell.inside == model == direct, (zone_name, number, cell.title)
                    else:
                        assert cell.inside == direct
                    checked += 1
        if number in weeks_changed:
            assert week.changes and any("clocks go forward" in line for line in week.changes)
    assert checked > 5 * 7 * 20


def test_the_chosen_sessions_on_the_heat_map_add_up_to_the_plans_coverage():
    problem, plan = atlantic()
    cohort = problem.cohorts[0]
    inside = total = 0
    for number in range(1, cohort.weeks + 1):
        week = plan_views.week_of(cohort, number, "Europe/London")
        heat = plan_heat.heat_map(cohort, plan.cohort(cohort.name), week, problem.program.live_minutes,
                                   people_of(problem), titles_of(problem))
        inside += sum(b.inside for b in heat.blocks)
        total += sum(b.learners for b in heat.blocks)
    assert total == sum(len(s.learners) for s in plan.cohort(cohort.name).sections
                        for x in plan.cohort(cohort.name).sessions if x.section == s.id)
    assert inside / total == pytest.approx(plan.coverage) == pytest.approx(recompute_coverage(problem, plan))
    figures = plan_comparison.plan_figures(plan, {cohort.name: cohort}, people_of(problem))
    assert figures.coverage == plan.coverage and figures.pairs == total
    assert figures.outside_pairs == total - inside
    assert sum(n for _name, n in figures.per_facilitator) == figures.sessions == len(plan.cohort(cohort.name).sessions)


def test_a_fall_back_hour_shows_twice_and_a_spring_forward_hour_not_at_all():
    """On the display zone's DST days the 01:00 and 01:30 rows hold two cells when clocks go back and none when
    they go forward (Europe/London, Sunday 28 March and 31 October 2027); every other row holds one."""
    from datetime import time

    from planner import problem as p

    early = p.WorkingHours(time(0, 0), time(6, 0), frozenset(range(7)))  # so the small hours are on the grid
    learner = p.Member(p.Person("a@x.org", "A", "Europe/London", early))
    for start, expected in ((datetime(2027, 3, 22).date(), 0), (datetime(2027, 10, 25).date(), 2)):
        cohort = p.Cohort("C", start, 1, (learner,), timezone="Europe/London")
        week = plan_views.week_of(cohort, 1, "Europe/London")
        assert week.days[6].clock_change and not week.days[5].clock_change
        heat = plan_heat.heat_map(cohort, None, week, 60, {}, {})
        assert heat.rows[0] == "00:00"
        sunday = {heat.rows[i]: len(row[6]) for i, row in enumerate(heat.grid)}
        assert sunday["01:00"] == sunday["01:30"] == expected
        assert all(n == 1 for label, n in sunday.items() if label not in ("01:00", "01:30"))
        assert all(len(row[5]) == 1 for row in heat.grid)  # Saturday is an ordinary day
        # the repeated hour's two cells are two instants an hour apart, each counted on its own
        if expected == 2:
            one, two = heat.grid[heat.rows.index("01:00")][6]
            assert two.start - one.start == timedelta(hours=1)


def test_week_calendar_blocks_are_labelled_and_placed_in_the_viewers_zone():
    problem, plan = atlantic()
    cohort = problem.cohorts[0]
    cp = plan.cohort(cohort.name)
    first = cp.sessions[0]
    week = plan_views.week_of(cohort, plan_views.program_week(cohort, first.start), "America/Chicago")
    calendar = plan_views.week_calendar(cp, week, people_of(problem), titles_of(problem))
    block = calendar.blocks[0]
    assert block.session == first
    assert block.label == session_label(titles_of(problem)[u.unit] for u in first.units)
    assert block.facilitator == "Maya Okafor" and block.section == "A"
    local = first.start.astimezone(plan_views.zone("America/Chicago"))
    assert calendar.rows[block.row] == f"{local:%H}:{local.minute // 30 * 30:02d}"
    assert week.days[block.column].date == local.date()
    assert block.inside == sum(inside_hours(people_of(problem)[e], first.start, first.end)
                               for e in cp.sections[0].learners)


# --- the pages -------------------------------------------------------------------------------------------


@pytest.fixture
def published(db):
    """The Atlantic example imported and its solved plan published; a designer in New York; and a run that holds
    the same plan."""
    from server.services.importing import import_problem
    from server.services.planner_runs import create_run, finish_run
    from server.services.publishing import publish_plan

    problem, plan = atlantic()
    designer = make_person("dee@example.org", "designer", name="Dee Signer", timezone="America/New_York")
    imported = run(import_problem(problem, now=NOW))
    run(publish_plan(plan, imported.cohort_ids, now=NOW))
    cohort = run(Cohort.select().where(Cohort.name == ATLANTIC).first())
    run_id = run(create_run(cohort["program"], [ATLANTIC], designer.id, 3, now=NOW))
    run(finish_run(run_id, plan, None, now=NOW))
    return {"designer": designer, "cohort": cohort, "run": run_id, "plan": plan, "problem": problem}


def test_cohort_heat_map_page_in_a_members_zone_marks_the_dst_week(published):
    cohort = published["cohort"]
    with web_client(now=NOW) as client:
        sign_in(client, published["designer"].email)
        page = client.get(f"/cohorts/{cohort['id']}/heatmap?week=1&zone=America/Chicago")
        assert page.status_code == 200, page.text[:500]
        text = page_text(page)
        assert "Coverage heat map" in text and "Clocks change this week" in text
        assert "America/Chicago: clocks go forward on Sun 14 Mar (CST → CDT)" in text
        assert "Week 3 (clocks change)" in text
        assert "Each learner" in text and "Priya Nair" in text
        assert "inside their hours for a 60-min session starting here" in text
        fragment = client.get(f"/cohorts/{cohort['id']}/heatmap?week=2&zone=UTC", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="plan-view">')


def test_run_calendar_page_names_sessions_by_their_units(published):
    problem, plan = published["problem"], published["plan"]
    first = plan.cohorts[0].sessions[0]
    label = session_label(titles_of(problem)[u.unit] for u in first.units)
    with web_client(now=NOW) as client:
        sign_in(client, published["designer"].email)
        week = plan_views.program_week(problem.cohorts[0], first.start)
        page = client.get(f"/plans/{published['run']}/calendar?week={week}")
        assert page.status_code == 200, page.text[:500]
        assert label.replace("&", "&amp;") in page.text and "Maya Okafor" in page.text
        assert "America/New_York (your zone)" in page.text
        assert f"Sessions of week {week}, times in America/New_York" in page.text
        cohort_page = client.get(f"/cohorts/{published['cohort']['id']}/calendar?week={week}&zone=Asia/Dubai")
        assert cohort_page.status_code == 200 and label.replace("&", "&amp;") in cohort_page.text
        run_page = client.get(f"/plans/{published['run']}")
        assert label.replace("&", "&amp;") in run_page.text and "Week calendar" in run_page.text


@pytest.mark.parametrize("query, words", [
    ("week=9", "Week must be a whole number from 1 to 5."),
    ("week=x", "Week must be a whole number from 1 to 5."),
    ("zone=Mars/Base", "is not a time zone name"),
    ("cohort=999999", "That cohort is not part of this plan."),
])
def test_bad_queries_are_one_line_400s(published, query, words):
    with web_client(now=NOW) as client:
        sign_in(client, published["designer"].email)
        for url in (f"/plans/{published['run']}/heatmap?{query}", f"/plans/{published['run']}/calendar?{query}"):
            response = client.get(url)
            assert response.status_code == 400 and words in response.text, (url, response.text[:300])


def test_a_run_without_a_plan_says_so(published):
    with web_client(now=NOW) as client:
        sign_in(client, published["designer"].email)
        queued = run(PlannerRun.select(PlannerRun.id).where(PlannerRun.id == published["run"]).first())
        run(PlannerRun.update({PlannerRun.result: {"reasons": ["no"]}, PlannerRun.status: "infeasible"}).where(
            PlannerRun.id == queued["id"]))
        response = client.get(f"/plans/{published['run']}/heatmap")
        assert response.status_code == 400 and "holds no plan to show" in response.text
        assert client.get("/plans/999999/calendar").status_code == 404


def test_plan_round_trip_keeps_what_the_views_need():
    _problem, plan = atlantic()
    assert pl.plan_from_dict(pl.plan_to_dict(plan)).cohorts == plan.cohorts
