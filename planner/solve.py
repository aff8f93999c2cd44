"""`solve(problem)`: build the CP-SAT model from `planner.rules.RULES`, run it, read back a Plan.

This module owns every solver setting. Runs are repeatable: the solver searches in deterministic
(interleaved) mode and stops on a deterministic time budget, and everything is built in sorted order, so the
same input and options give the same `plan_to_json`, byte for byte.

Order of work: cheap pre-checks (clear reasons for the common impossible inputs); then the model with every
session in the week the spread rule gives it; if that has no solution, the same model with every week a
session could use; if that has none either, the wide model again with each rule group behind an enforcement
literal, so the solver names a set of rule groups that cannot hold together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import timedelta

from ortools.sat.python import cp_model

from planner import weights
from planner.coverage import cohort_window, describe_local, minutes_outside, zone
from planner.hints import weekly_hint
from planner.model import CohortModel, FixedSessionError, Vars, cohort_models
from planner.plan import (
    CohortPlan,
    Module,
    Penalty,
    Plan,
    PlanningError,
    Section,
    Session,
    Status,
)
from planner.problem import Problem
from planner.rules import RULES, Term
from planner.slots import cohort_slots, due_instant, inside_cached, pack_units, prework_of

# Deterministic-time units granted per second of time limit. Measured on 2 cores: a model of ~20k variables
# does ~0.6 units per wall second after building; one of ~90k variables (scenario L) only ~0.3, and its
# building and presolve take longer too. The budget is a function of the model, never of the clock.
DETERMINISTIC_PER_SECOND = 0.6
DETERMINISTIC_PER_SECOND_LARGE = 0.25
LARGE_MODEL_VARIABLES = 40_000
WALL_SAFETY = 4.0  # a wall-clock stop far behind the deterministic one, for very slow machines only


def solve(problem: Problem, time_limit: float = 10.0, *, workers: int = 2, seed: int = 0) -> Plan:
    began = time.monotonic()
    reasons = precheck(problem)
    if reasons:
        raise PlanningError(reasons)
    try:
        plan = _attempt(problem, time_limit, workers, seed, narrow=True)
        if plan is None:
            plan = _attempt(problem, time_limit, workers, seed, narrow=False)
    except FixedSessionError as error:
        raise PlanningError(error.reasons) from None
    if plan is None:
        raise PlanningError(_explain(problem, time_limit, workers, seed))
    if isinstance(plan, str):
        raise PlanningError([plan])
    return Plan(
        status=plan.status, objective=plan.objective, bound=plan.bound, coverage=plan.coverage,
        cohorts=plan.cohorts, penalties=plan.penalties, wall_seconds=round(time.monotonic() - began, 3),
    )


# ------------------------------------------------------------------------------------------ pre-checks


def precheck(problem: Problem) -> list[str]:
    """Reasons that need no solver: counts that cannot add up."""
    program = problem.program
    reasons = []
    for cohort in problem.cohorts:
        packing = pack_units(program, cohort.weeks)
        name = cohort.name
        learners = len(cohort.learners)
        if learners == 0:
            reasons.append(f"cohort {name!r} has no learners")
        elif learners < cohort.min_section_size:
            reasons.append(
                f"cohort {name!r}: {learners} learners cannot fill one section of min_section_size "
                f"{cohort.min_section_size}"
            )
        sessions = len(packing.sessions)
        allowed = cohort.weeks * program.live_sessions_per_week
        if sessions > allowed:
            live = sum(program.unit(u).minutes for u in packing.live)
            reasons.append(
                f"cohort {name!r}: {live} live minutes need {sessions} sessions of {program.live_minutes} min, "
                f"but {cohort.weeks} weeks x live_sessions_per_week {program.live_sessions_per_week} "
                f"allow only {allowed}"
            )
        async_minutes = sum(program.unit(u).minutes for u in packing.asynchronous)
        if async_minutes > cohort.weeks * program.weekly_async_minutes:
            reasons.append(
                f"cohort {name!r}: {async_minutes} async minutes exceed {cohort.weeks} weeks x "
                f"weekly_async_minutes {program.weekly_async_minutes}"
            )
        if sessions and not cohort.facilitators:
            reasons.append(f"cohort {name!r} has live units but no facilitator")
        elif sessions:
            first, last = cohort_window(cohort)
            slots = cohort_slots(problem, cohort)
            if not slots:
                reasons.append(
                    f"cohort {name!r}: no facilitator's working hours hold a {program.live_minutes}-minute "
                    f"session on a working day between {first:%Y-%m-%d %H:%M}Z and {last:%Y-%m-%d %H:%M}Z "
                    f"(outside blackout dates and outside commitments)"
                )
            elif len(slots) < sessions:
                reasons.append(
                    f"cohort {name!r}: {sessions} sessions needed but only {len(slots)} possible starts "
                    f"inside facilitator hours in the window"
                )
            else:
                reasons += _prework_too_late(program, cohort, packing, slots)
    return reasons


def _prework_too_late(program, cohort, packing, slots) -> list[str]:
    """A live unit whose async prerequisites cannot fall due prework_lead_hours before any possible start."""
    latest = max(slot.latest_due_day for slot in slots)
    out = []
    for unit_id in packing.live:
        needs = [r for r in program.unit(unit_id).requires if r in packing.asynchronous]
        if needs and latest < 0:
            out.append(
                f"cohort {cohort.name!r}: unit {unit_id!r} needs prework ({', '.join(needs)}) due "
                f"prework_lead_hours {program.prework_lead_hours} h before its first session, but the last "
                f"possible start in the {cohort.weeks}-week window is earlier than that after the program starts"
            )
    return out


# ------------------------------------------------------------------------------------------ one attempt


class _Built:
    def __init__(self, problem: Problem, narrow: bool, guarding: bool):
        self.model = cp_model.CpModel()
        self.cohorts = cohort_models(problem, narrow)
        self.vars = Vars(self.model, problem, self.cohorts)
        self.vars.guarding = guarding
        self.terms: list[Term] = []
        for rule in RULES:
            self.terms.extend(rule.add(self.model, self.vars, problem))
        self.model.maximize(sum(t.weight * t.var for t in self.terms))


def _solver(time_limit: float, workers: int, seed: int, variables: int = 0) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = max(1, workers)
    params.interleave_search = True
    params.random_seed = seed
    rate = DETERMINISTIC_PER_SECOND_LARGE if variables > LARGE_MODEL_VARIABLES else DETERMINISTIC_PER_SECOND
    params.max_deterministic_time = max(0.1, time_limit * rate)
    params.max_time_in_seconds = max(1.0, time_limit * WALL_SAFETY)
    return solver


def _attempt(problem: Problem, time_limit: float, workers: int, seed: int, narrow: bool):
    built = _Built(problem, narrow, guarding=False)
    _add_hints(problem, built)
    solver = _solver(time_limit, workers, seed, len(built.model.proto.variables))
    status = solver.solve(built.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _read_plan(problem, built, solver, status)
    if status == cp_model.INFEASIBLE:
        return None
    if narrow:
        return None  # unknown: try the wider model, which may be easier to satisfy
    return (
        f"no plan found within the time limit of {time_limit:g} s (the solver neither found a plan nor proved "
        f"that none exists); try a longer --time-limit"
    )


def _add_hints(problem: Problem, built: _Built) -> None:
    """Start from the previous plan (re-plans) or else from the greedy baseline when it finds one."""
    v = built.vars
    if problem.previous is not None:
        starts = {
            (cm.index, s, k): prev for cm in built.cohorts for (s, k), prev in cm.previous.items()
        }
    else:
        starts = weekly_hint(built.cohorts, problem.program)
    partial: list[tuple[cp_model.IntVar, int]] = []
    for cm, s, k, ch in v.all_choices():
        wanted = starts.get((cm.index, s, k))
        if wanted is not None:
            partial.append((ch.var, int(ch.slot.start == wanted[0] and ch.facilitator == wanted[1])))
    _complete_hint(built, partial)


def _complete_hint(built: _Built, partial: list[tuple[cp_model.IntVar, int]]) -> None:
    """Turn a hint on the start choices into a hint on every variable (a complete, feasible hint is the
    solver's first solution): solve a copy with those choices fixed. Falls back to the partial hint."""
    if not partial:
        return
    copy = built.model.clone()
    for var, value in partial:
        copy.add(copy.get_bool_var_from_proto_index(var.index) == value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 2.0
    status = solver.solve(copy)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for i in range(len(built.model.proto.variables)):
            built.model.proto.solution_hint.vars.append(i)
            built.model.proto.solution_hint.values.append(solver.value(copy.get_int_var_from_proto_index(i)))
        return
    for var, value in partial:
        built.model.add_hint(var, value)


# ------------------------------------------------------------------------------------------ reading back


def _assign_learners(cm: CohortModel, solver: cp_model.CpSolver, v: Vars) -> dict[int, list[str]]:
    """Learners of each profile into sections by the solved counts; re-plans keep people where they were."""
    members: dict[int, list[str]] = {s: [] for s in range(cm.sections)}
    for p in cm.profiles:
        want = {s: solver.value(v.count(cm, p, s)) for s in range(cm.sections)}
        left = []
        for email in p.learners:
            s = cm.previous_sections.get(email)
            if s is not None and s in want and want[s] > 0:
                members[s].append(email)
                want[s] -= 1
            else:
                left.append(email)
        for email in left:
            s = next(s for s in range(cm.sections) if want[s] > 0)
            members[s].append(email)
            want[s] -= 1
    return members


def _read_plan(problem: Problem, built: _Built, solver: cp_model.CpSolver, status) -> Plan:
    v = built.vars
    program = problem.program
    cohorts = []
    penalties: list[Penalty] = []
    pairs = covered_pairs = 0
    people = {m.email: m.person for c in problem.cohorts for m in c.members}
    for cm in built.cohorts:
        members = _assign_learners(cm, solver, v)
        sections, sessions = [], []
        ends: dict[tuple[int, int], object] = {}
        for s in range(cm.sections):
            if not solver.value(v.used(cm, s)):
                continue
            section_id = cm.section_id(s)
            learners = tuple(sorted(members[s]))
            sections.append(Section(section_id, learners))
            for k in range(cm.session_count):
                chosen = next(ch for ch in v.choices(cm, s, k) if solver.value(ch.var))
                prework = prework_of(program, cm.packing, cm.modules, k)
                session = Session(
                    id=cm.session_id(s, k), section=section_id, start=chosen.slot.start, end=chosen.slot.end,
                    facilitator=chosen.facilitator, units=cm.packing.sessions[k], prework=tuple(prework),
                )
                sessions.append(session)
                ends[s, k] = chosen.slot.end
                for email in learners:
                    person = people[email]
                    pairs += 1
                    if inside_cached(person, session.start, session.end):
                        covered_pairs += 1
                    else:
                        penalties.append(outside_hours_penalty(person, session))
        modules = _read_modules(problem, cm, solver, v, ends)
        cohorts.append(CohortPlan(
            name=cm.name,
            sections=tuple(sections),
            sessions=tuple(sorted(sessions, key=lambda x: (x.start, x.section, x.id))),
            modules=tuple(sorted(modules, key=lambda m: (m.due, m.id))),
        ))
    penalties += _soft_penalties(built, solver)
    objective = round(solver.objective_value)
    bound = math.floor(solver.best_objective_bound + 1e-6)
    if status == cp_model.OPTIMAL:
        bound = objective
    return Plan(
        status=Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FEASIBLE,
        objective=objective,
        bound=max(bound, objective),
        coverage=covered_pairs / pairs if pairs else 1.0,
        cohorts=tuple(cohorts),
        penalties=tuple(penalties),
    )


def _read_modules(problem: Problem, cm: CohortModel, solver, v: Vars, ends: dict) -> list[Module]:
    """Modules fall due at 23:59 home time on their solved day; released at program start, or when the last
    session (over all sections) of a live prerequisite ends."""
    program_start = cohort_window(cm.cohort)[0]
    modules = []
    for i, spec in enumerate(cm.modules):
        release = program_start
        for required in problem.program.unit(spec.unit).requires:
            if required in cm.packing.live:
                k = cm.packing.last_session(required)
                release = max([release] + [end for (_s, kk), end in sorted(ends.items()) if kk == k])
        due = due_instant(cm.cohort, solver.value(v.due_day(cm, i)))
        modules.append(Module(spec.id, spec.unit, spec.minutes, release, due))
    return modules


def outside_hours_penalty(person, session: Session) -> Penalty:
    """`Priya Nair joins at 07:30 CDT, 30 min before their day starts` — in the person's own time."""
    when = describe_local(session.start, person.timezone)
    outside = minutes_outside(person, session.start, session.end)
    hours = person.hours
    local_start = session.start.astimezone(zone(person.timezone))
    local_end = session.end.astimezone(zone(person.timezone))
    if local_start.weekday() not in hours.days:
        why = "on a day off"
    elif local_start.time() < hours.start:
        early = int((local_start.replace(hour=hours.start.hour, minute=hours.start.minute) - local_start)
                    / timedelta(minutes=1))
        why = f"{early} min before their day starts"
    elif local_end.date() > local_start.date() or local_end.time() > hours.end:
        if local_start.time() < hours.end:
            why = f"running {outside} min past the end of their day"
        else:
            late = int((local_start - local_start.replace(hour=hours.end.hour, minute=hours.end.minute))
                       / timedelta(minutes=1))
            why = f"{late} min after their day ends"
    else:
        why = f"{outside} min outside their hours"
    return Penalty(
        rule="outside_hours",
        weight=weights.COVERED_PAIR,
        amount=1,
        text=f"{person.name} joins {session.id} at {when}, {why}",
    )


def _soft_penalties(built: _Built, solver: cp_model.CpSolver) -> list[Penalty]:
    """Every non-coverage soft term that costs something, named after its variable (its reason)."""
    out = []
    for term in built.terms:
        if term.rule == "coverage":
            continue
        amount = solver.value(term.var)
        if amount:
            name = term.var.name if hasattr(term.var, "name") else term.rule
            out.append(Penalty(rule=term.rule, weight=-term.weight, amount=int(amount), text=_describe(term.rule, name, amount)))
    return out


def _describe(rule: str, name: str, amount: int) -> str:
    inside = name[name.find("[") + 1 : name.rfind("]")] if "[" in name else name
    if rule == "extra_section":
        return f"section {inside} runs in addition to the first one"
    if rule == "uneven_rhythm":
        later, earlier = inside.split(" vs ")
        return f"{later} is not at the same weekday and time as {earlier} a week earlier"
    if rule == "uneven_async_load":
        return f"cohort {inside}: the busiest week has up to {amount * weights.ASYNC_PEAK_STEP} async minutes due"
    if rule == "moved_session":
        return f"{inside} moved from its time or facilitator in the previous plan"
    if rule == "facilitator_change":
        section, before, after = inside.split("|")
        return f"section {section} changes facilitator between session {before} and {after}"
    if rule == "facilitator_share":
        cohort, email = inside.split("|")
        more = "1 section" if amount == 1 else f"{amount} sections"
        return f"{email} leads {more} of cohort {cohort} beyond a fair share among its facilitators"
    return inside


# ------------------------------------------------------------------------------------------ reasons


_RULE_TEXT = {
    "sections": "{learners} learners must form between 1 and {max_sections} sections of at least {min_size}",
    "session_slots": "{sessions} sessions of {length} min per section need starts inside facilitator hours "
    "(weeks {weeks}, live_sessions_per_week {per_week})",
    "session_order": "the {sessions} sessions of a section must follow each other in teaching order",
    "weekly_sessions": "at most {per_week} live sessions per section per week over {weeks} weeks",
    "fixed_sessions": "fixed sessions must keep their time, facilitator and section",
    "weekly_async": "{async_minutes} async minutes with at most {cap} due per week",
    "prework_lead": "prework must fall due {lead} h before the first session needing it",
    "async_order": "async prerequisites must fall due no later than the modules needing them",
    "release_after_live": "async units after a live unit must fall due after its last session",
    "module_order": "the parts of each async unit must fall due in order (part 1 before part 2)",
}


def _explain(problem: Problem, time_limit: float, workers: int, seed: int) -> list[str]:
    built = _Built(problem, narrow=False, guarding=True)
    guards = built.vars.guards
    labels = sorted(guards)
    built.model.clear_objective()
    built.model.add_assumptions([guards[label] for label in labels])
    solver = _solver(time_limit, 1, seed)
    solver.parameters.interleave_search = False
    status = solver.solve(built.model)
    if status != cp_model.INFEASIBLE:
        return [f"no plan found within the time limit of {time_limit:g} s; try a longer --time-limit"]
    core = set(solver.sufficient_assumptions_for_infeasibility())
    chosen = [label for label in labels if guards[label].index in core] or labels
    return [_reason(problem, built.cohorts, label) for label in chosen]


def _reason(problem: Problem, cohorts: Iterable[CohortModel], label: str) -> str:
    rule, _, who = label.partition("|")
    program = problem.program
    if rule == "facilitator_overlap":
        names = [cm.name for cm in cohorts if any(f.email == who for f in cm.cohort.facilitators)]
        return (f"facilitator {who} cannot lead every session asked of them without overlaps "
                f"(cohorts: {', '.join(repr(n) for n in names)})")
    cm = next(cm for cm in cohorts if cm.name == who)
    data = {
        "learners": cm.learner_count, "max_sections": cm.cohort.max_sections,
        "min_size": cm.cohort.min_section_size, "sessions": cm.session_count, "length": program.live_minutes,
        "weeks": cm.cohort.weeks, "per_week": program.live_sessions_per_week,
        "async_minutes": sum(m.minutes for m in cm.modules), "cap": program.weekly_async_minutes,
        "lead": program.prework_lead_hours,
    }
    return f"cohort {who!r}: {rule}: " + _RULE_TEXT[rule].format(**data)


__all__ = ["solve", "precheck", "outside_hours_penalty"]
