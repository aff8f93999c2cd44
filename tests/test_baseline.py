"""The greedy baseline: valid plans, one weekly time, first-come facilitators, PlanningError when stuck."""

from __future__ import annotations

from datetime import date

import pytest
from planner_helpers import cohort, facilitator, member, problem, program, unit

from planner.baseline import greedy_plan
from planner.plan import PlanningError
from planner.validate import recompute_coverage, validate_plan

WEEKLY = program(unit("pre", 20, "async"), unit("a", 60, "live", requires=["pre"]),
                 unit("b", 60, "live", requires=["a"]), unit("c", 60, "live", requires=["b"]))


def test_baseline_is_valid_with_one_section_and_one_weekly_time():
    members = [facilitator("f@example.com", tz="Europe/London", hours="08:00-18:00")]
    members += [member(f"l{i}@example.com", tz=tz) for i, tz in enumerate(["Europe/Berlin", "America/New_York"])]
    p = problem(WEEKLY, cohort("Weekly", members, start=date(2027, 3, 1), weeks=3, tz="Europe/London",
                               max_sections=2))
    plan = greedy_plan(p)
    assert validate_plan(p, plan) == []
    cp = plan.cohort("Weekly")
    assert len(cp.sections) == 1 and len(cp.sessions) == 3
    local = {(s.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).strftime("%a %H:%M"))
             for s in cp.sessions}
    assert len(local) == 1  # the same weekday and time every week, home time
    assert plan.coverage == recompute_coverage(p, plan)


def test_facilitator_booked_by_an_earlier_cohort_pushes_the_next_cohort_to_its_next_best_time():
    f = facilitator("f@example.com", hours="09:00-11:00")
    c1 = cohort("First", [f, member("a@example.com", hours="09:00-10:00")], weeks=1)
    c2 = cohort("Second", [f, member("b@example.com", hours="09:00-10:00")], weeks=1)
    plan = greedy_plan(problem(program(unit("talk", 60, "live")), c1, c2))
    assert validate_plan(problem(program(unit("talk", 60, "live")), c1, c2), plan) == []
    one, two = plan.cohort("First").sessions[0], plan.cohort("Second").sessions[0]
    assert one.start != two.start and one.facilitator == two.facilitator
    assert plan.coverage == 1.0  # the next best time is another day at 09:00


def test_baseline_raises_when_no_weekly_time_has_a_free_facilitator():
    f = facilitator("f@example.com", hours="09:00-10:00", days="Mon")
    c1 = cohort("First", [f, member("a@example.com")], weeks=1)
    c2 = cohort("Second", [f, member("b@example.com")], weeks=1)
    with pytest.raises(PlanningError) as caught:
        greedy_plan(problem(program(unit("talk", 60, "live")), c1, c2))
    assert any("'Second'" in r for r in caught.value.reasons)


def test_baseline_keeps_home_time_so_it_scores_dst_honestly():
    # home time London 14:00 is 09:00 in New York before 14 March and 10:00 after: the baseline keeps the
    # weekly home time and loses the second session; the planner follows New York and keeps both
    from planner.solve import solve

    p = problem(
        program(unit("first", 60, "live"), unit("second", 60, "live", requires=["first"])),
        cohort("Atlantic", [facilitator("maya@example.com", tz="Europe/London", hours="08:00-20:00"),
                            member("sam@example.com", tz="America/New_York", hours="09:00-10:00")],
               start=date(2027, 3, 8), weeks=2, tz="Europe/London"),
    )
    base = greedy_plan(p)
    assert validate_plan(p, base) == []
    assert base.coverage == recompute_coverage(p, base) == 0.5
    assert solve(p, time_limit=3.0).coverage == 1.0


def test_more_sessions_than_weeks_use_a_second_weekly_time():
    p = problem(program(unit("long", 180, "live")),
                cohort("Busy", [facilitator("f@example.com"), member("a@example.com")], weeks=2))
    plan = greedy_plan(p)
    assert validate_plan(p, plan) == []
    starts = [s.start for s in plan.cohort("Busy").sessions]
    assert len(starts) == 3 and starts == sorted(starts) and plan.coverage == 1.0
