"""The text report a designer reads: local times with zone abbreviations, who is outside hours and by how
much, modules, coverage and the solver's figures."""

from __future__ import annotations

from dataclasses import replace

from planner_helpers import PLAN, PROBLEM

from planner.plan import Penalty, Status, StoppedBy
from planner.report import gap_percent, local_span, render_report


def test_sessions_show_utc_and_everyones_local_time():
    text = render_report(PROBLEM, PLAN)
    assert "Wed 03 Mar 2027 14:00-15:00 UTC" in text
    # the facilitator in London, the learner in New York on the same session
    assert "Thu 04 Mar 14:00-15:00 GMT" in text
    assert "Wed 03 Mar 09:00-10:00 EST" in text
    ny_lines = [line for line in text.splitlines() if "b@example.com" in line and "EST" in line]
    assert len(ny_lines) == 2
    assert all("OUTSIDE hours by 60 min" in line for line in ny_lines)
    a_lines = [line for line in text.splitlines() if "a@example.com" in line and "UTC" in line]
    assert a_lines and all("inside hours" in line for line in a_lines)


def test_modules_coverage_and_solver_figures():
    plan = replace(PLAN, status=Status.FEASIBLE, objective=40, bound=38, wall_seconds=1.25)
    text = render_report(PROBLEM, plan)
    assert "Status: feasible   objective 40   bound 38   gap 5.00%   wall time 1.25 s" in text
    assert "Coverage: 50.0% of (learner, session) pairs inside working hours (2 of 4" in text
    module_line = next(line for line in text.splitlines() if line.strip().startswith("wrap-1"))
    assert "Thu 04 Mar 15:00 UTC" in module_line and "Mon 08 Mar 12:00 UTC" in module_line
    assert "Prework: intro-1, intro-2" in text


def test_columns_are_aligned():
    lines = render_report(PROBLEM, PLAN).splitlines()
    attendees = [line for line in lines if line.startswith("    learner") or line.startswith("    facilitator")]
    session_one = attendees[:3]
    zone_columns = {line.index("inside") if "inside" in line else line.index("OUTSIDE") for line in session_one}
    assert len(zone_columns) == 1


def test_penalties_and_how_the_search_stopped():
    plan = replace(PLAN, penalties=(Penalty("outside_hours", 3, 2, "B joins at 09:00 EST, 60 min before her day"),))
    assert "B joins at 09:00 EST, 60 min before her day" in render_report(PROBLEM, plan)
    floor = replace(PLAN, status=Status.CONSTRUCTIVE, stopped_by=StoppedBy.CLOCK)
    text = render_report(PROBLEM, floor)
    assert "Status: constructive" in text and "wall-clock time limit" in text
    assert "did not beat the constructive plan" in text
    assert "deterministic work budget" in render_report(PROBLEM, replace(PLAN, stopped_by=StoppedBy.BUDGET))


def test_local_span_and_gap():
    assert local_span("Australia/Sydney", PLAN.cohorts[0].sessions[0].start, PLAN.cohorts[0].sessions[0].end) == (
        "Thu 04 Mar 01:00-02:00 AEDT")
    assert gap_percent(replace(PLAN, objective=0, bound=0)) == 0.0
