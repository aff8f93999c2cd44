"""Working hours across the March/April 2027 clock changes: US 14 Mar, EU 28 Mar, Sydney 4 Apr.

Each check takes a fixed UTC time of day and evaluates it on the session's own date, on both sides of the
change, so a weekly session keeps its UTC time while its local time moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from planner_helpers import cohort, facilitator, member, person, problem, program, unit

from planner.coverage import cohort_window, describe_local, inside_hours, minutes_outside, program_week
from planner.plan import CohortPlan, Plan, Portion, Section, Session, Status
from planner.validate import recompute_coverage, validate_plan


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(("zone", "before", "after", "seen_before", "seen_after"), [
    # 14:00Z on Fri 12 Mar is 09:00 EST; on Mon 15 Mar it is 10:00 EDT.
    ("America/New_York", utc(3, 12, 14), utc(3, 15, 14), "Fri 12 Mar 09:00 EST", "Mon 15 Mar 10:00 EDT"),
    # 08:00Z on Fri 26 Mar is 08:00 GMT; on Mon 29 Mar it is 09:00 BST.
    ("Europe/London", utc(3, 26, 8), utc(3, 29, 8), "Fri 26 Mar 08:00 GMT", "Mon 29 Mar 09:00 BST"),
    # 22:00Z on Thu 1 Apr is Fri 2 Apr 09:00 AEDT; on Sun 4 Apr it is Mon 5 Apr 08:00 AEST.
    ("Australia/Sydney", utc(4, 1, 22), utc(4, 4, 22), "Fri 02 Apr 09:00 AEDT", "Mon 05 Apr 08:00 AEST"),
])
def test_local_time_moves_across_the_clock_change(zone, before, after, seen_before, seen_after):
    assert describe_local(before, zone) == seen_before
    assert describe_local(after, zone) == seen_after


def test_new_york_spring_forward():
    nine_to_five = person("ny@example.com", "America/New_York")
    # 13:30Z: 08:30 EST before the change (30 min early), 09:30 EDT after (inside).
    assert minutes_outside(nine_to_five, utc(3, 12, 13, 30), utc(3, 12, 14, 30)) == 30
    assert inside_hours(nine_to_five, utc(3, 15, 13, 30), utc(3, 15, 14, 30))
    # 21:00Z: 16:00 EST before (inside), 17:00 EDT after (fully outside).
    assert inside_hours(nine_to_five, utc(3, 12, 21), utc(3, 12, 22))
    assert minutes_outside(nine_to_five, utc(3, 15, 21), utc(3, 15, 22)) == 60


def test_london_spring_forward():
    nine_to_five = person("ldn@example.com", "Europe/London")
    assert minutes_outside(nine_to_five, utc(3, 26, 8), utc(3, 26, 9)) == 60
    assert inside_hours(nine_to_five, utc(3, 29, 8), utc(3, 29, 9))
    assert inside_hours(nine_to_five, utc(3, 26, 16), utc(3, 26, 17))
    assert minutes_outside(nine_to_five, utc(3, 29, 16), utc(3, 29, 17)) == 60


def test_sydney_falls_back():
    nine_to_five = person("syd@example.com", "Australia/Sydney")
    assert inside_hours(nine_to_five, utc(4, 1, 22), utc(4, 1, 23))  # Fri 09:00 AEDT
    assert minutes_outside(nine_to_five, utc(4, 4, 22), utc(4, 4, 23)) == 60  # Mon 08:00 AEST
    assert minutes_outside(nine_to_five, utc(4, 4, 22, 30), utc(4, 4, 23, 30)) == 30


def test_working_days_are_local_days():
    # 23:00Z on Friday is already Saturday 10:00 in Sydney: not a working day.
    sydney = person("syd@example.com", "Australia/Sydney")
    assert describe_local(utc(3, 5, 23), "Australia/Sydney").startswith("Sat")
    assert minutes_outside(sydney, utc(3, 5, 23), utc(3, 6, 0)) == 60
    # Sun-Thu weeks: Sunday is a working day, Friday is not.
    riyadh = person("ry@example.com", "Asia/Riyadh", days="Sun-Thu")
    assert inside_hours(riyadh, utc(3, 7, 7), utc(3, 7, 8))  # Sun 10:00 AST
    assert not inside_hours(riyadh, utc(3, 5, 7), utc(3, 5, 8))  # Fri 10:00 AST


def test_half_hour_zone():
    kolkata = person("in@example.com", "Asia/Kolkata")
    assert describe_local(utc(3, 3, 3, 30), "Asia/Kolkata") == "Wed 03 Mar 09:00 IST"
    assert minutes_outside(kolkata, utc(3, 3, 3), utc(3, 3, 4)) == 30


def test_program_weeks_follow_home_zone_midnights_across_the_change():
    london = cohort("ldn", [facilitator("f@example.com"), member("l@example.com")], start=date(2027, 3, 22),
                    weeks=2, tz="Europe/London")
    first, last = cohort_window(london)
    assert first == utc(3, 22, 0)  # midnight GMT
    assert last == utc(4, 4, 23)  # midnight BST on 5 April
    assert program_week(london, utc(3, 28, 22, 59)) == 1  # Sun 28 Mar 23:59 BST
    assert program_week(london, utc(3, 28, 23, 0)) == 2  # Mon 29 Mar 00:00 BST


def test_a_weekly_session_is_scored_on_each_date():
    # A New York learner working 10:00-18:00 joins a weekly Wednesday 14:00Z session: 09:00 EST before
    # 14 March (outside), 10:00 EDT after (inside). Coverage counts each date on its own.
    learner = member("ny@example.com", tz="America/New_York", hours="10:00-18:00")
    fac = facilitator("f@example.com", hours="08:00-18:00")
    p = problem(program(unit("talk", 120), live_minutes=60), cohort("c", [fac, learner], start=date(2027, 3, 8), weeks=2))
    sessions = tuple(
        Session(f"c/a/{i + 1}", "c/a", start, start + HOUR, "f@example.com", (Portion("talk", 60),))
        for i, start in enumerate([utc(3, 10, 14), utc(3, 17, 14)])
    )
    plan = Plan(Status.FEASIBLE, 1, 0, 0.5, (CohortPlan("c", (Section("c/a", ("ny@example.com",)),), sessions, ()),))
    assert recompute_coverage(p, plan) == 0.5
    assert validate_plan(p, plan) == []
    assert [describe_local(s.start, "America/New_York") for s in sessions] == [
        "Wed 10 Mar 09:00 EST", "Wed 17 Mar 10:00 EDT"]


def test_coverage_with_no_sessions_is_full():
    p = problem(program(unit("read", 10, "async")),
                cohort("c", [facilitator("f@example.com"), member("l@example.com")]))
    plan = Plan(Status.OPTIMAL, 0, 0, 1.0, (CohortPlan("c", (Section("c/a", ("l@example.com",)),), (), ()),))
    assert recompute_coverage(p, plan) == 1.0
