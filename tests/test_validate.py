"""The solver-independent validator, rule by rule: a tiny hand-built plan that holds, and the same plan
mutated so that exactly one rule breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from planner_helpers import MEMBERS, MODULES, PLAN, PROBLEM, PROGRAM, S1, S2, at, cohort, facilitator, member

from planner.plan import CohortPlan, Module, Plan, Portion, Section
from planner.problem import Busy, FixedSession
from planner.validate import RULES, recompute_coverage, validate_plan


def edit(plan: Plan, *, sections=None, sessions=None, modules=None, **plan_changes) -> Plan:
    cohort_plan = plan.cohorts[0]
    cohort_plan = replace(
        cohort_plan,
        sections=cohort_plan.sections if sections is None else tuple(sections),
        sessions=cohort_plan.sessions if sessions is None else tuple(sessions),
        modules=cohort_plan.modules if modules is None else tuple(modules),
    )
    return replace(plan, cohorts=(cohort_plan,) + plan.cohorts[1:], **plan_changes)


def module(module_id: str, **changes) -> list[Module]:
    return [replace(m, **changes) if m.id == module_id else m for m in MODULES]


def with_cohort(**changes):
    return replace(PROBLEM, cohorts=(replace(PROBLEM.cohorts[0], **changes),))


def rules(problem_, plan) -> set[str]:
    return {v.rule for v in validate_plan(problem_, plan)}


def test_the_hand_built_plan_holds():
    assert validate_plan(PROBLEM, PLAN) == []
    assert recompute_coverage(PROBLEM, PLAN) == 0.5


def test_two_sections_hold_and_break_max_sections():
    b_sessions = (
        replace(S1, id="c1/b/1", section="c1/b", start=at(3, 16), end=at(3, 17)),
        replace(S2, id="c1/b/2", section="c1/b", start=at(4, 12), end=at(4, 13)),
    )
    plan = edit(
        PLAN,
        sections=[Section("c1/a", ("a@example.com",)), Section("c1/b", ("b@example.com",))],
        sessions=sorted((S1, S2) + b_sessions, key=lambda s: s.start),
        coverage=0.75,  # b: 11:00 EST inside, 07:00 EST outside
    )
    assert validate_plan(PROBLEM, plan) == []
    assert rules(with_cohort(max_sections=1), plan) == {"max_sections"}


def test_every_rule_is_listed_once_with_a_label():
    names = [name for name, _label in RULES]
    assert len(names) == len(set(names))
    assert all(label for _name, label in RULES)


BREAKS = {
    "aware_utc": (PROBLEM, edit(PLAN, sessions=[replace(S1, start=S1.start.replace(tzinfo=None)), S2])),
    "cohorts": (PROBLEM, replace(PLAN, cohorts=PLAN.cohorts + (CohortPlan("ghost", (), (), ()),))),
    "unique_ids": (PROBLEM, edit(PLAN, modules=module("wrap-2", id="wrap-1"))),
    "section_partition": (
        PROBLEM,
        edit(PLAN, sections=[Section("c1/a", ("a@example.com", "b@example.com", "f@example.com"))]),
    ),
    "section_size": (with_cohort(min_section_size=3), PLAN),
    "session_section": (
        PROBLEM,
        edit(PLAN, sessions=[S1, S2, replace(S2, id="c1/z/1", section="c1/z", start=at(5, 14), end=at(5, 15), units=())]),
    ),
    "unknown_unit": (PROBLEM, edit(PLAN, modules=MODULES + (Module("ghost-1", "ghost", 5, at(1, 0), at(2, 9)),))),
    "unit_mode": (PROBLEM, edit(PLAN, sessions=[S1, replace(S2, units=S2.units + (Portion("intro", 10),))])),
    "either_mode": (PROBLEM, edit(PLAN, sessions=[S1, replace(S2, units=S2.units + (Portion("wrap", 10),))])),
    "live_coverage": (PROBLEM, edit(PLAN, sessions=[S1, replace(S2, units=(Portion("practice", 20),))])),
    "async_modules": (PROBLEM, edit(PLAN, modules=module("wrap-1", minutes=20))),
    "session_length": (PROBLEM, edit(PLAN, sessions=[replace(S1, end=at(3, 15, 30)), S2])),
    "window": (PROBLEM, edit(PLAN, modules=module("wrap-2", due=at(15, 1)))),
    "blackout": (with_cohort(blackout=(date(2027, 3, 3),)), PLAN),
    "weekly_sessions": (replace(PROBLEM, program=replace(PROGRAM, live_sessions_per_week=1)), PLAN),
    "weekly_async": (replace(PROBLEM, program=replace(PROGRAM, weekly_async_minutes=25)), PLAN),
    "module_release": (PROBLEM, edit(PLAN, modules=module("intro-2", release=at(2, 9)))),
    "module_order": (PROBLEM, edit(PLAN, modules=module("wrap-1", due=at(8, 13)))),
    "prerequisite_async_live": (PROBLEM, edit(PLAN, modules=module("intro-2", due=at(2, 15)))),
    "prerequisite_async_async": (PROBLEM, edit(PLAN, modules=module("reading-1", due=at(2, 8)))),
    "prerequisite_live_live": (
        PROBLEM,
        edit(PLAN, sessions=[replace(S1, units=S2.units, prework=()), replace(S2, units=S1.units, prework=S1.prework)]),
    ),
    "prerequisite_live_async": (PROBLEM, edit(PLAN, modules=module("wrap-1", release=at(4, 14, 30)))),
    "prework": (PROBLEM, edit(PLAN, sessions=[replace(S1, prework=("intro-1",)), S2])),
    "facilitator_member": (PROBLEM, edit(PLAN, sessions=[S1, replace(S2, facilitator="a@example.com")])),
    "facilitator_hours": (
        replace(PROBLEM, cohorts=(replace(PROBLEM.cohorts[0], members=(
            MEMBERS[0], facilitator("g@example.com", tz="Europe/London", hours="08:00-12:00"), *MEMBERS[2:])),)),
        PLAN,
    ),
    "facilitator_overlap": (
        replace(PROBLEM, busy=(Busy("g@example.com", at(4, 13), at(4, 14, 30), "another cohort"),)),
        PLAN,
    ),
    "fixed_sessions": (
        replace(PROBLEM, previous=PLAN, fixed=(FixedSession("c1", "c1/a/1"),)),
        edit(PLAN, sessions=[replace(S1, facilitator="g@example.com"), S2]),
    ),
    "coverage": (PROBLEM, replace(PLAN, coverage=0.9)),
}


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_one_broken_rule_is_named(rule):
    problem_, plan = BREAKS[rule]
    violations = validate_plan(problem_, plan)
    assert {v.rule for v in violations} == {rule}, violations
    assert all(v.text and "\n" not in v.text for v in violations)


def test_every_rule_has_a_breaking_example():
    tested = set(BREAKS) | {"max_sections", "section_overlap"}
    assert tested == {name for name, _label in RULES}


def test_overlapping_sessions_of_a_section_and_of_a_facilitator():
    plan = edit(PLAN, sessions=[S1, replace(S2, start=at(3, 14, 30), end=at(3, 15, 30), facilitator="f@example.com")])
    assert rules(PROBLEM, plan) == {"section_overlap", "facilitator_overlap"}


def test_a_facilitator_shared_by_two_cohorts_cannot_be_in_two_places():
    second = cohort("c2", (MEMBERS[0], member("z@example.com")), start=date(2027, 3, 1), weeks=2)
    two = replace(PROBLEM, cohorts=PROBLEM.cohorts + (second,))
    c2_plan = CohortPlan(
        "c2",
        (Section("c2/a", ("z@example.com",)),),
        (
            replace(S1, id="c2/a/1", section="c2/a", start=at(3, 14, 30), end=at(3, 15, 30)),
            replace(S2, id="c2/a/2", section="c2/a", facilitator="f@example.com", start=at(4, 9), end=at(4, 10)),
        ),
        MODULES,
    )
    plan = replace(PLAN, cohorts=PLAN.cohorts + (c2_plan,), coverage=4 / 6)
    violations = validate_plan(two, plan)
    assert [v.rule for v in violations] == ["facilitator_overlap"]
    assert "c1/a/1" in violations[0].text and "c2/a/1" in violations[0].text
    moved = replace(plan, cohorts=(PLAN.cohorts[0], replace(c2_plan, sessions=(
        replace(c2_plan.sessions[0], start=at(3, 15), end=at(3, 16)), c2_plan.sessions[1]))))
    assert validate_plan(two, moved) == []


def test_a_session_spanning_units_in_order_within_one_session():
    # practice before kickoff inside one session's list breaks the live prerequisite order.
    prog = replace(PROGRAM, live_minutes=90, units=tuple(
        replace(u, minutes=30) if u.id == "kickoff" else u for u in PROGRAM.units))
    p = replace(PROBLEM, program=prog)
    good = replace(S1, end=at(3, 15, 30), units=(Portion("kickoff", 30), Portion("practice", 30)))
    bad = replace(good, units=(Portion("practice", 30), Portion("kickoff", 30)))
    plan = edit(PLAN, sessions=[good])
    assert validate_plan(p, edit(plan, modules=module("wrap-1", release=at(3, 15, 30)))) == []
    assert rules(p, edit(PLAN, sessions=[bad], modules=module("wrap-1", release=at(3, 15, 30)))) == {
        "prerequisite_live_live"
    }


def test_parts_of_a_unit_in_order_hold_and_out_of_order_break_module_order():
    # Part 2 of wrap due a day after part 1 (a tie holds too, see PLAN): in order.
    assert validate_plan(PROBLEM, edit(PLAN, modules=module("wrap-2", due=at(9, 12)))) == []
    # Part 2 due before part 1, or part 1 released after part 2: out of order, each one violation.
    early = validate_plan(PROBLEM, edit(PLAN, modules=module("wrap-2", due=at(7, 12))))
    assert [(v.rule, "wrap-2" in v.text and "due" in v.text) for v in early] == [("module_order", True)]
    late = validate_plan(PROBLEM, edit(PLAN, modules=module("wrap-1", release=at(4, 16))))
    assert [(v.rule, "release" in v.text) for v in late] == [("module_order", True)]


def test_module_parts_are_compared_by_number_not_by_text():
    # wrap-10 comes after wrap-2 although "wrap-10" < "wrap-2" as text.
    tenth = Module("wrap-10", "wrap", 15, at(4, 15), at(8, 12))
    prog = replace(PROGRAM, units=tuple(replace(u, minutes=45) if u.id == "wrap" else u for u in PROGRAM.units))
    p = replace(PROBLEM, program=prog)
    assert validate_plan(p, edit(PLAN, modules=MODULES + (tenth,))) == []
    assert rules(p, edit(PLAN, modules=MODULES + (replace(tenth, due=at(8, 11)),))) == {"module_order"}
