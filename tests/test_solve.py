"""solve(): DST-aware coverage, byte-for-byte determinism, stable ids, re-plans, named penalties and reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date

import pytest
from hypothesis import HealthCheck, given, settings
from planner_helpers import cohort, facilitator, member, problem, program, unit, valid_problems

from planner.coverage import describe_local
from planner.plan import (
    PlanningError,
    Status,
    parse_utc,
    plan_from_dict,
    plan_to_dict,
    plan_to_json,
    utc_text,
)
from planner.problem import FixedSession
from planner.solve import solve
from planner.validate import recompute_coverage, validate_plan

LIMIT = 3.0
TWO_TALKS = program(unit("first", 60, "live"), unit("second", 60, "live", requires=["first"]))


def dst_problem():
    # Sam (New York) works 09:00-10:00 only. The cohort runs a week either side of the US switch on 14 March
    # 2027, when New York moves from UTC-5 to UTC-4 but London (the facilitator) stays on UTC+0.
    return problem(
        TWO_TALKS,
        cohort(
            "Atlantic",
            [facilitator("maya@example.com", tz="Europe/London", hours="08:00-20:00"),
             member("sam@example.com", tz="America/New_York", hours="09:00-10:00", name="Sam Rivera")],
            start=date(2027, 3, 8),
            weeks=2,
            tz="Europe/London",
        ),
    )


def test_coverage_is_scored_on_each_sessions_own_date_across_dst():
    p = dst_problem()
    plan = solve(p, time_limit=LIMIT)
    assert validate_plan(p, plan) == []
    assert plan.status is Status.OPTIMAL and plan.coverage == 1.0
    first, second = plan.cohort("Atlantic").sessions
    # the same local 09:00 is a different UTC time on each side of the switch: a fixed offset would miss one
    assert (first.start.hour, second.start.hour) == (14, 13)
    assert describe_local(first.start, "America/New_York").endswith("09:00 EST")
    assert describe_local(second.start, "America/New_York").endswith("09:00 EDT")


def test_same_input_gives_the_same_json_byte_for_byte():
    members = [facilitator("f@example.com", tz="Europe/Berlin", hours="07:00-19:00"),
               facilitator("g@example.com", tz="Asia/Singapore", hours="08:00-18:00")]
    members += [member(f"l{i}@example.com", tz=tz) for i, tz in
                enumerate(["Asia/Tokyo", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Europe/London"])]
    p = problem(
        program(unit("pre", 20, "async"), unit("a", 90, "live", requires=["pre"]), unit("b", 30, "either")),
        cohort("Mixed", members, weeks=3, max_sections=2, min_section_size=2),
    )
    one, two = solve(p, time_limit=LIMIT), solve(p, time_limit=LIMIT)
    assert plan_to_json(one) == plan_to_json(two)
    assert validate_plan(p, one) == []


def test_a_stored_plan_reads_back_equal_and_its_instants_only_as_written():
    plan = solve(dst_problem(), time_limit=LIMIT)
    assert plan_from_dict(plan_to_dict(plan)).cohorts == plan.cohorts  # every instant read back equal
    instant = parse_utc("2027-03-14T13:00:00Z")
    assert instant.tzinfo is UTC and utc_text(instant) == "2027-03-14T13:00:00Z"
    for bad in ("2027-03-14T13:00:00", "2027-03-14", "2027-03-14T13:00:00+00:00", "2027-03-14T13:00:00.5Z",
                "2027-3-14T13:00:00Z", " 2027-03-14T13:00:00Z", "2027-03-14T13:00:00z", "2027-02-30T13:00:00Z", ""):
        with pytest.raises(ValueError):
            parse_utc(bad)


def test_ids_are_stable_and_readable():
    plan = solve(dst_problem(), time_limit=LIMIT)
    cp = plan.cohort("Atlantic")
    assert [s.id for s in cp.sections] == ["atlantic/a"]
    assert [s.id for s in cp.sessions] == ["atlantic/a-s01", "atlantic/a-s02"]
    p = problem(program(unit("read", 20, "async")),
                cohort("Atlantic", [facilitator("f@example.com"), member("a@example.com")], weeks=1))
    assert [m.id for m in solve(p, time_limit=LIMIT).cohort("Atlantic").modules] == ["atlantic:read-1", "atlantic:read-2"]


def test_penalties_name_the_person_and_their_local_time():
    p = problem(TWO_TALKS, cohort("Wide", [
        facilitator("f@example.com", tz="Europe/London"),
        member("priya@example.com", tz="America/Chicago", hours="07:00-15:00", name="Priya Nair"),
        member("kenji@example.com", tz="Asia/Tokyo", name="Kenji Ito"),
    ], start=date(2027, 3, 1), weeks=1))
    plan = solve(p, time_limit=LIMIT)
    assert validate_plan(p, plan) == []
    outside = [pen for pen in plan.penalties if pen.rule == "outside_hours"]
    # London 09:00-17:00 overlaps Chicago 07:00-15:00 (13:00-15:00Z... ) but never Tokyo's day
    assert outside and all("Kenji Ito" in pen.text and "JST" in pen.text for pen in outside)
    assert plan.coverage == recompute_coverage(p, plan) == 0.5


def test_unchanged_replan_moves_nothing():
    p = dst_problem()
    first = solve(p, time_limit=LIMIT)
    again = solve(replace(p, previous=first), time_limit=LIMIT)
    assert plan_to_json(again) == plan_to_json(first)
    assert not [pen for pen in again.penalties if pen.rule == "moved_session"]


def test_fixed_sessions_keep_time_facilitator_and_units_when_the_problem_changes():
    p = dst_problem()
    first = solve(p, time_limit=LIMIT)
    held = first.cohort("Atlantic").sessions[0]
    # a new learner in Tokyo joins: the second session may move, the held one may not
    c = p.cohorts[0]
    changed = replace(c, members=c.members + (member("kenji@example.com", tz="Asia/Tokyo"),))
    p2 = replace(p, cohorts=(changed,), previous=first, fixed=(FixedSession("Atlantic", held.id),))
    plan = solve(p2, time_limit=LIMIT)
    assert validate_plan(p2, plan) == []
    kept = next(s for s in plan.cohort("Atlantic").sessions if s.id == held.id)
    assert (kept.start, kept.end, kept.facilitator, kept.units, kept.section) == (
        held.start, held.end, held.facilitator, held.units, held.section)


def test_a_fixed_session_missing_from_the_previous_plan_is_a_reason():
    p = dst_problem()
    first = solve(p, time_limit=LIMIT)
    try:
        solve(replace(p, previous=first, fixed=(FixedSession("Atlantic", "atlantic/a-s09"),)), time_limit=LIMIT)
    except PlanningError as error:
        assert any("atlantic/a-s09" in r for r in error.reasons)
    else:
        raise AssertionError("expected PlanningError")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_problems())
def test_every_plan_of_random_valid_problems_passes_the_validator(p):
    try:
        plan = solve(p, time_limit=2.0)
    except PlanningError as error:
        assert error.reasons and all(isinstance(r, str) and r for r in error.reasons)
        return
    assert validate_plan(p, plan) == []


@pytest.mark.parametrize(
    ("learner_zone", "start", "facilitator_zone", "facilitator_hours"),
    [
        ("America/New_York", date(2027, 3, 8), "Europe/London", "08:00-20:00"),  # US switch, 14 March
        ("Europe/Berlin", date(2027, 3, 22), "UTC", "05:00-20:00"),  # EU switch, 28 March
        ("Australia/Sydney", date(2027, 3, 29), "Asia/Singapore", "05:00-21:00"),  # Sydney ends DST, 4 April
    ],
)
def test_each_march_2027_switch_keeps_the_learner_at_their_own_nine_oclock(
    learner_zone, start, facilitator_zone, facilitator_hours
):
    p = problem(TWO_TALKS, cohort(
        "Switch",
        [facilitator("f@example.com", tz=facilitator_zone, hours=facilitator_hours),
         member("l@example.com", tz=learner_zone, hours="09:00-10:00")],
        start=start, weeks=2, tz=facilitator_zone,
    ))
    plan = solve(p, time_limit=LIMIT)
    assert validate_plan(p, plan) == []
    assert plan.coverage == 1.0
    first, second = plan.cohort("Switch").sessions
    assert " 09:00 " in describe_local(first.start, learner_zone) + " "
    assert " 09:00 " in describe_local(second.start, learner_zone) + " "
    assert first.start.astimezone(UTC).time() != second.start.astimezone(UTC).time()


def test_a_replan_after_an_unrelated_change_keeps_every_session_where_it_was():
    p = dst_problem()
    first = solve(p, time_limit=LIMIT)
    c = p.cohorts[0]
    # a second New York learner with the same hours changes nothing about the best times
    changed = replace(c, members=c.members + (member("ana@example.com", tz="America/New_York", hours="09:00-10:00"),))
    plan = solve(replace(p, cohorts=(changed,), previous=first), time_limit=LIMIT)
    before = [(s.id, s.start, s.facilitator) for s in first.cohort("Atlantic").sessions]
    assert [(s.id, s.start, s.facilitator) for s in plan.cohort("Atlantic").sessions] == before
    assert plan.cohort("Atlantic").sections[0].learners == ("ana@example.com", "sam@example.com")
