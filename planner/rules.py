"""Every rule of a plan, one function each: `add_<rule>(model, vars, problem) -> list[Term]`.

Hard rules return no terms. Soft rules return the objective terms they create, each variable named after
its reason. `RULES` lists them in order, hard first, with a label a designer can read. When explaining
infeasibility, hard rules guard their constraints with one literal per (rule, cohort) — see `Vars.guard`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner import weights
from planner.bounds import cover_limits
from planner.model import CohortModel, Vars, enforce
from planner.problem import Problem
from planner.slots import span_of


@dataclass(frozen=True)
class Term:
    """`weight · var` in the maximised objective (negative weight = a penalty)."""

    rule: str
    weight: int
    var: cp_model.LinearExprT
    cohort: str = ""  # the cohort it belongs to: every soft rule is a sum over cohorts


def guard_label(rule: str, cm: CohortModel) -> str:
    return f"{rule}|{cm.name}"


# ======================================================================= hard rules


def add_sections(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Every learner in exactly one section; sections of at least min_section_size; at most max_sections."""
    for cm in v.cohorts:
        g = v.guard(guard_label("sections", cm))
        for p in cm.profiles:
            enforce(model.add(sum(v.count(cm, p, s) for s in range(cm.sections)) == p.size), g)
        sizes = [sum(v.count(cm, p, s) for p in cm.profiles) for s in range(cm.sections)]
        for s in range(cm.sections):
            used = v.used(cm, s)
            enforce(model.add(sizes[s] >= max(1, cm.cohort.min_section_size) * used), g)
            model.add(sizes[s] <= cm.learner_count * used)
            if s == 0:
                model.add(used == 1)
            else:  # symmetry: sections run in order and shrink in order
                model.add(used <= v.used(cm, s - 1))
                model.add(sizes[s] <= sizes[s - 1])
    return []


def add_one_start_per_session(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Each session of a running section has one start and one facilitator (of its cohort, inside that
    facilitator's working hours, off blackout dates, inside the window: the candidates already obey that)."""
    for cm in v.cohorts:
        g = v.guard(guard_label("session_slots", cm))
        for s in range(cm.sections):
            for k in range(cm.session_count):
                choices = v.choices(cm, s, k)
                if s == 0:
                    enforce(model.add(sum(ch.var for ch in choices) == v.used(cm, s)), g)
                else:
                    model.add(sum(ch.var for ch in choices) == v.used(cm, s))
    return []


def add_session_order(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Sessions of a section follow each other in order without overlapping (portions are packed in order)."""
    gap = span_of(problem.program)
    for cm in v.cohorts:
        g = v.guard(guard_label("session_order", cm))
        for s in range(cm.sections):
            for k in range(cm.session_count - 1):
                enforce(
                    model.add(v.start_index(cm, s, k + 1) >= v.start_index(cm, s, k) + gap).only_enforce_if(
                        v.used(cm, s)
                    ),
                    g,
                )
    return []


def add_weekly_session_limit(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Per section at most live_sessions_per_week sessions in any program week."""
    cap = problem.program.live_sessions_per_week
    for cm in v.cohorts:
        g = v.guard(guard_label("weekly_sessions", cm))
        if all(lo == hi for lo, hi in cm.weeks):
            continue  # the spread rule already keeps every week under the cap
        for s in range(cm.sections):
            for w in range(1, cm.cohort.weeks + 1):
                in_week = [ch.var for k in range(cm.session_count) for ch in v.choices(cm, s, k) if ch.slot.week == w]
                if len(in_week) > cap:
                    enforce(model.add(sum(in_week) <= cap), g)
    return []


def add_facilitator_no_overlap(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """No facilitator leads two overlapping sessions, across every cohort of the run."""
    span = span_of(problem.program)
    by_point: dict[tuple[str, int], list] = {}
    for _cm, _s, _k, ch in v.all_choices():
        for step in range(span):
            by_point.setdefault((ch.facilitator, ch.slot.index + step), []).append(ch.var)
    for (email, _point), variables in sorted(by_point.items()):
        if len(variables) > 1:
            enforce(model.add_at_most_one(variables), v.guard(f"facilitator_overlap|{email}"))
    return []


def add_fixed_sessions(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Fixed sessions of a re-plan keep their section, time, facilitator and units."""
    for cm in v.cohorts:
        for s, k in sorted(cm.fixed):
            g = v.guard(guard_label("fixed_sessions", cm))
            enforce(model.add(v.used(cm, s) == 1), g)
            for ch in v.choices(cm, s, k):
                enforce(model.add(ch.var == 1), g)
    return []


def add_weekly_async_cap(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Each module falls due in one program week; async minutes due per week at most weekly_async_minutes."""
    cap = problem.program.weekly_async_minutes
    for cm in v.cohorts:
        g = v.guard(guard_label("weekly_async", cm))
        weeks = range(1, cm.cohort.weeks + 1)
        for i, _spec in enumerate(cm.modules):
            model.add_exactly_one(v.due_week(cm, i, w) for w in weeks)
            for w in weeks:
                day = v.due_day(cm, i)
                model.add(day >= 7 * (w - 1)).only_enforce_if(v.due_week(cm, i, w))
                model.add(day <= 7 * w - 1).only_enforce_if(v.due_week(cm, i, w))
        for w in weeks:
            load = sum(spec.minutes * v.due_week(cm, i, w) for i, spec in enumerate(cm.modules))
            if cm.modules:
                enforce(model.add(load <= cap), g)
    return []


def add_prework_lead(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Async A required by live B: A's modules fall due prework_lead_hours before B's first session."""
    program = problem.program
    for cm in v.cohorts:
        g = v.guard(guard_label("prework_lead", cm))
        horizon = 7 * cm.cohort.weeks
        for unit_id in cm.packing.live:
            k = cm.packing.first_session(unit_id)
            for required in program.unit(unit_id).requires:
                if required not in cm.packing.asynchronous:
                    continue
                for i, spec in enumerate(cm.modules):
                    if spec.unit != required:
                        continue
                    for s in range(cm.sections):
                        latest = v.slot_value(cm, s, k, lambda slot: slot.latest_due_day)
                        enforce(
                            model.add(v.due_day(cm, i) <= latest + horizon - horizon * v.used(cm, s)), g
                        )
    return []


def add_async_order(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Async A required by async B: A's modules fall due no later than B's."""
    program = problem.program
    for cm in v.cohorts:
        g = v.guard(guard_label("async_order", cm))
        for unit_id in cm.packing.asynchronous:
            for required in program.unit(unit_id).requires:
                if required not in cm.packing.asynchronous:
                    continue
                for i, a in enumerate(cm.modules):
                    if a.unit != required:
                        continue
                    for j, b in enumerate(cm.modules):
                        if b.unit == unit_id:
                            enforce(model.add(v.due_day(cm, i) <= v.due_day(cm, j)), g)
    return []


def add_release_after_live(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Live A required by async B: B's modules are released when A's last session ends, so they fall due
    on that day or later (due 23:59 home time is after any session end that day)."""
    program = problem.program
    for cm in v.cohorts:
        g = v.guard(guard_label("release_after_live", cm))
        for unit_id in cm.packing.asynchronous:
            for required in program.unit(unit_id).requires:
                if required not in cm.packing.live:
                    continue
                k = cm.packing.last_session(required)
                for j, b in enumerate(cm.modules):
                    if b.unit != unit_id:
                        continue
                    for s in range(cm.sections):
                        end_day = v.slot_value(cm, s, k, lambda slot: slot.end_day)
                        enforce(model.add(v.due_day(cm, j) >= end_day), g)
    return []


def add_module_order(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Parts of one async unit fall due in order: part k (id ending -k) no later than part k+1. Learners read
    them in order. They share their release (program start, or the end of a live prerequisite), so releases
    are in order too."""
    for cm in v.cohorts:
        g = v.guard(guard_label("module_order", cm))
        previous: dict[str, int] = {}
        for i, spec in enumerate(cm.modules):  # split_modules lists a unit's parts in order
            if spec.unit in previous:
                enforce(model.add(v.due_day(cm, previous[spec.unit]) <= v.due_day(cm, i)), g)
            previous[spec.unit] = i
    return []


# ======================================================================= soft rules


def add_coverage(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Reward every (learner, session) pair inside the learner's working hours on that session's date."""
    terms = []
    for cm in v.cohorts:
        for s in range(cm.sections):
            for k in range(cm.session_count):
                choices = v.choices(cm, s, k)
                for p in cm.profiles:
                    covered = v.covered(cm, p, s, k)
                    if covered is None:
                        continue
                    model.add(covered <= v.count(cm, p, s))
                    inside = [ch.var for ch in choices if p.inside(ch.slot)]
                    if len(inside) < len(choices):
                        model.add(covered <= p.size * sum(inside))
                    terms.append(Term("coverage", weights.COVERED_PAIR, covered, cm.name))
        _add_coverage_bounds(model, v, cm)
    return terms


def _add_coverage_bounds(model: cp_model.CpModel, v: Vars, cm: CohortModel) -> None:
    """Redundant cuts that tighten the bound and guide the search: at session k, the cohort's running sections
    together cover at most as many learners as the best that many candidate starts of that session could
    (`bounds.cover_limits`, ignoring every other rule). Sections run in order, so "j sections run" is
    `used(j - 1)` and each further section may add only what one more start could."""
    if not cm.profiles:
        return
    sizes = np.array([p.size for p in cm.profiles], dtype=np.int64)
    for k in range(cm.session_count):
        rows = {tuple(p.inside(ch.slot) for p in cm.profiles): None
                for s in range(cm.sections) for ch in v.choices(cm, s, k)}
        if not rows:
            continue
        limits = cover_limits(np.array(list(rows), dtype=bool), sizes, cm.sections)
        covered = [v.covered(cm, p, s, k) for s in range(cm.sections) for p in cm.profiles]
        covered = [c for c in covered if c is not None]
        if covered:
            model.add(sum(covered) <= limits[0] + sum((limits[j] - limits[j - 1]) * v.used(cm, j)
                                                      for j in range(1, cm.sections)))


def add_fewer_sections(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Each section beyond the first costs a little: split a cohort only when it covers more learners."""
    return [
        Term("extra_section", -weights.EXTRA_SECTION, v.used(cm, s), cm.name)
        for cm in v.cohorts
        for s in range(1, cm.sections)
    ]


def add_steady_rhythm(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """A session should sit at the same home-zone weekday and time as its counterpart a week earlier."""
    terms = []
    for cm in v.cohorts:
        if not all(lo == hi for lo, hi in cm.weeks):
            continue
        by_week: dict[int, list[int]] = {}
        for k, (week, _) in enumerate(cm.weeks):
            by_week.setdefault(week, []).append(k)
        for week in sorted(by_week):
            following = by_week.get(week + 1, [])
            for rank, k in enumerate(by_week[week]):
                if rank >= len(following) or (cm.fixed and any(key[1] in (k, following[rank]) for key in cm.fixed)):
                    continue
                j = following[rank]
                for s in range(cm.sections):
                    before = v.slot_value(cm, s, k, lambda slot: slot.time_of_week)
                    after = v.slot_value(cm, s, j, lambda slot: slot.time_of_week)
                    broken = model.new_bool_var(f"rhythm_break[{cm.session_id(s, j)} vs {cm.session_id(s, k)}]")
                    model.add(after == before).only_enforce_if(~broken)
                    terms.append(Term("uneven_rhythm", -weights.RHYTHM_BREAK, broken, cm.name))
    return terms


def add_even_async_load(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Keep the busiest week's async minutes low (the total is fixed, so this evens the load)."""
    terms = []
    step = weights.ASYNC_PEAK_STEP
    for cm in v.cohorts:
        if not cm.modules:
            continue
        cap = problem.program.weekly_async_minutes
        peak = model.new_int_var(0, math.ceil(cap / step), f"async_peak_steps[{cm.slug}]")
        for w in range(1, cm.cohort.weeks + 1):
            load = sum(spec.minutes * v.due_week(cm, i, w) for i, spec in enumerate(cm.modules))
            model.add(step * peak >= load)
        terms.append(Term("uneven_async_load", -weights.ASYNC_PEAK, peak, cm.name))
    return terms


def add_stay_put(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """In a re-plan, a session of the previous plan that moves (time or facilitator) costs a little."""
    terms = []
    for cm in v.cohorts:
        for (s, k), (start, facilitator) in sorted(cm.previous.items()):
            if (s, k) in cm.fixed:
                continue
            same = [ch.var for ch in v.choices(cm, s, k) if ch.slot.start == start and ch.facilitator == facilitator]
            moved = model.new_bool_var(f"moved[{cm.session_id(s, k)}]")
            model.add(moved + sum(same) >= v.used(cm, s))
            terms.append(Term("moved_session", -weights.MOVED_SESSION, moved, cm.name))
    return terms


def _shared_facilitators(cm: CohortModel) -> list[str]:
    return sorted(f.email for f in cm.cohort.facilitators)


def add_facilitator_continuity(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """A section keeps one facilitator where it can: each change between consecutive sessions costs a little."""
    terms = []
    for cm in v.cohorts:
        emails = _shared_facilitators(cm)
        if len(emails) < 2:
            continue
        for s in range(cm.sections):
            for k in range(cm.session_count - 1):
                changed = model.new_bool_var(f"facilitator_change[{cm.section_id(s)}|{k + 1}|{k + 2}]")
                for email in emails:
                    model.add(changed >= v.led_by(cm, s, k, email) - v.led_by(cm, s, k + 1, email))
                terms.append(Term("facilitator_change", -weights.FACILITATOR_CHANGE, changed, cm.name))
    return terms


def add_facilitator_share(model: cp_model.CpModel, v: Vars, problem: Problem) -> list[Term]:
    """Sections of a cohort with several facilitators are spread over them: a facilitator who leads (any
    session of) more than ceil(running sections / facilitators) sections costs a little per extra section."""
    terms = []
    for cm in v.cohorts:
        emails = _shared_facilitators(cm)
        n = len(emails)
        if n < 2 or cm.sections < 2 or cm.session_count == 0:
            continue
        running = sum(v.used(cm, s) for s in range(cm.sections))
        fair = model.new_int_var(1, math.ceil(cm.sections / n), f"fair_share[{cm.slug}]")
        model.add(n * fair >= running)
        model.add(n * fair <= running + n - 1)  # fair = ceil(running / n)
        for email in emails:
            leads = []
            for s in range(cm.sections):
                led = model.new_bool_var(f"leads_section[{cm.section_id(s)}|{email}]")
                for k in range(cm.session_count):
                    model.add(led >= v.led_by(cm, s, k, email))
                leads.append(led)
            extra = model.new_int_var(0, cm.sections, f"facilitator_load[{cm.slug}|{email}]")
            model.add(extra >= sum(leads) - fair)
            terms.append(Term("facilitator_share", -weights.FACILITATOR_SHARE, extra, cm.name))
    return terms


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    hard: bool
    add: Callable[[cp_model.CpModel, Vars, Problem], list[Term]]


RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- hard
    Rule("sections", "Every learner is in exactly one section of at least the minimum size", True, add_sections),
    Rule("session_slots", "Every session has a start and a facilitator inside their working hours", True,
         add_one_start_per_session),
    Rule("session_order", "A section's sessions come in teaching order without overlapping", True,
         add_session_order),
    Rule("weekly_sessions", "At most live_sessions_per_week sessions per section per week", True,
         add_weekly_session_limit),
    Rule("facilitator_overlap", "No facilitator leads two sessions at once", True, add_facilitator_no_overlap),
    Rule("fixed_sessions", "Fixed sessions of a re-plan do not move", True, add_fixed_sessions),
    Rule("weekly_async", "Async minutes due per week stay under weekly_async_minutes", True, add_weekly_async_cap),
    Rule("prework_lead", "Prework falls due prework_lead_hours before the session needing it", True,
         add_prework_lead),
    Rule("async_order", "Async prerequisites fall due no later than the modules needing them", True,
         add_async_order),
    Rule("release_after_live", "Async work after a live unit is released when that unit's last session ends", True,
         add_release_after_live),
    Rule("module_order", "Parts of one async unit fall due in order (part 1 before part 2)", True,
         add_module_order),
    # ---------------------------------------------------------------- soft
    Rule("coverage", "Learners meet inside their working hours", False, add_coverage),
    Rule("extra_section", "Fewer sections", False, add_fewer_sections),
    Rule("uneven_rhythm", "The same weekly time, week after week", False, add_steady_rhythm),
    Rule("uneven_async_load", "An even async load across weeks", False, add_even_async_load),
    Rule("moved_session", "In a re-plan, sessions stay where they were", False, add_stay_put),
    Rule("facilitator_change", "A section keeps one facilitator", False, add_facilitator_continuity),
    Rule("facilitator_share", "Sections are shared fairly among a cohort's facilitators", False,
         add_facilitator_share),
)
