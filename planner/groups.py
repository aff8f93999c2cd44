"""One CP-SAT model for a group of cohorts, the rest of the run held where it is.

A `GroupModel` holds some of a run's cohorts; the facilitator time that the run's other cohorts hold
(`taken`) is removed from its choices, so whatever it finds fits beside them. It starts from a complete hint
(the group's current assignments, completed by a solve with every decision fixed): its first solution is the
current one, so it can only improve on it. Every rule comes from `planner.rules.RULES`; every soft term
belongs to one cohort, so a group's objective is the sum of its cohorts'.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner import weights
from planner.assignment import CohortAssignment
from planner.model import CohortModel, Vars, cohort_models
from planner.plan import Penalty
from planner.problem import Problem
from planner.rules import RULES, Term

HINT_DETERMINISTIC = 1.0  # completing a hint with every decision fixed is presolve work, far below this
# Presolve: one round, no probing. On these models a full presolve cost more than the whole search of a small
# model (its probing alone ~0.3 deterministic units a round), before the hint was even loaded.
PROBING_LEVEL = 0
PRESOLVE_ITERATIONS = 1
COVERAGE_SHARE = 0.5  # of a lexicographic solve's budget, at most, for phase 1 (coverage alone)


@dataclass(frozen=True)
class CohortResult:
    """A cohort's current best: its decisions, their objective and the soft penalties behind it."""

    assignment: CohortAssignment
    narrow: bool
    objective: int
    penalties: tuple[Penalty, ...]
    exact: bool = True  # False: not scored by a model yet; `objective` is then a floor (bounds.floor_score)


@dataclass(frozen=True)
class Limits:
    deterministic: float  # CP-SAT deterministic time units
    wall: float  # seconds
    workers: int
    seed: int
    presolve: bool = True  # False: search the model as built (see search.PRESOLVE_ALONE)


@dataclass
class Outcome:
    status: str  # "optimal", "feasible", "infeasible" or "unknown"
    results: dict[str, CohortResult]
    bound: int | None  # the group's proven bound (None unless the solve ran)
    variables: int
    deterministic: float  # deterministic time spent, hint completion included
    clock: bool = False  # the wall-clock limit cut the solve short
    cancelled: bool = False
    current: dict[str, CohortResult] = field(default_factory=dict)  # the current plans, scored exactly

    @property
    def from_current(self) -> bool:
        """Started from a complete hint of the current plans: never worse than them."""
        return bool(self.current)


@dataclass(frozen=True)
class Hinted:
    deterministic: float
    current: dict[str, CohortResult]  # the hinted plans scored by the model; empty when the hint is partial


class GroupModel:
    def __init__(self, problem: Problem, narrow: Mapping[str, bool], taken: Mapping[str, set[int]] | None = None,
                 guarding: bool = False, within: Mapping[str, tuple[tuple[int, int], ...]] | None = None):
        self.problem = problem
        self.narrow = dict(narrow)
        self.model = cp_model.CpModel()
        self.cohorts = cohort_models(problem, self.narrow, within)
        self.vars = Vars(self.model, problem, self.cohorts, taken)
        self.vars.guarding = guarding
        self.terms: list[Term] = []
        for rule in RULES:
            self.terms.extend(rule.add(self.model, self.vars, problem))
        self.model.maximize(sum(t.weight * t.var for t in self.terms))

    @property
    def variables(self) -> int:
        return len(self.model.proto.variables)

    # ------------------------------------------------------------------------------------------ hints

    def decisions(self, cm: CohortModel, a: CohortAssignment) -> list[tuple[cp_model.IntVar, int]] | None:
        """The model's decision variables set to an assignment; None when the model cannot express it."""
        v = self.vars
        out: list[tuple[cp_model.IntVar, int]] = []
        running = len(a.sections)
        if running > cm.sections:
            return None
        profile_of = {e: p.key for p in cm.profiles for e in p.learners}
        for s in range(cm.sections):
            out.append((v.used(cm, s), int(s < running)))
            members = a.sections[s] if s < running else ()
            for p in cm.profiles:
                out.append((v.count(cm, p, s), sum(1 for e in members if profile_of.get(e) == p.key)))
            for k in range(cm.session_count):
                wanted = a.starts.get((s, k)) if s < running else None
                hit = False
                for ch in v.choices(cm, s, k):
                    on = wanted is not None and ch.slot.index == wanted[0].index and ch.facilitator == wanted[1]
                    hit |= on
                    out.append((ch.var, int(on)))
                if wanted is not None and not hit:
                    return None
        for i, day in enumerate(a.due_days):
            out.append((v.due_day(cm, i), day))
            for w in range(1, cm.cohort.weeks + 1):
                out.append((v.due_week(cm, i, w), int(day // 7 + 1 == w)))
        return out

    def hint(self, assignments: Mapping[str, CohortAssignment], wall: float = 60.0) -> Hinted:
        """Hint every variable from the cohorts' assignments (those it can express). A complete, feasible hint
        is the solver's first solution; completing it also scores the current plans exactly. `wall`: seconds
        the completion may take at most."""
        fixed: list[tuple[cp_model.IntVar, int]] = []
        for cm in self.cohorts:
            a = assignments.get(cm.name)
            found = self.decisions(cm, a) if a is not None else None
            if found is None:
                fixed = []
                break
            fixed += found
        if not fixed:
            for cm in self.cohorts:  # a partial hint still guides the search
                a = assignments.get(cm.name)
                for var, value in (self.decisions(cm, a) or []) if a is not None else []:
                    self.model.add_hint(var, value)
            return Hinted(0.0, {})
        copy = self.model.clone()
        for var, value in fixed:
            copy.add(copy.get_int_var_from_proto_index(var.index) == value)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_deterministic_time = HINT_DETERMINISTIC
        solver.parameters.max_time_in_seconds = max(0.01, wall)
        solver.parameters.cp_model_probing_level = PROBING_LEVEL
        solver.parameters.max_presolve_iterations = PRESOLVE_ITERATIONS
        status = solver.solve(copy)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            proto = self.model.proto.solution_hint
            for i in range(len(self.model.proto.variables)):
                proto.vars.append(i)
                proto.values.append(solver.value(copy.get_int_var_from_proto_index(i)))
            return Hinted(solver.deterministic_time, self._read(solver))
        for var, value in fixed:
            self.model.add_hint(var, value)
        return Hinted(solver.deterministic_time, {})

    # ------------------------------------------------------------------------------------------ solving

    def run(self, limits: Limits, stop=None, on_solution: Callable[[int], None] | None = None,
            hinted: Hinted | None = None, lexicographic: bool = False) -> Outcome:
        """Solve within `limits`. `lexicographic`: coverage first, then the penalties (see `_run_lexicographic`)."""
        coverage = [t for t in self.terms if t.rule == "coverage"]
        if lexicographic and coverage and len(coverage) < len(self.terms):
            return self._run_lexicographic(limits, stop, on_solution, hinted, coverage)
        solver, status, cancelled = _solve(self.model, limits, limits.deterministic, limits.wall, stop, on_solution)
        spent = solver.deterministic_time
        clock = _clock(status, cancelled, spent, solver.wall_time, limits.deterministic, limits.wall)
        outcome = self._outcome(status, spent, clock, cancelled, hinted)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            outcome.results = self._read(solver)
            objective = round(solver.objective_value)
            outcome.bound = objective if status == cp_model.OPTIMAL else max(
                objective, math.floor(solver.best_objective_bound + 1e-6))
        return outcome

    def _run_lexicographic(self, limits: Limits, stop, on_solution, hinted: Hinted | None,
                           coverage: list[Term]) -> Outcome:
        """Two solves. Phase 1 maximises covered pairs alone (at most COVERAGE_SHARE of the budget; without the
        small tie-breaking penalties its bound is tight and it proves fast). Phase 2 keeps coverage at least
        phase 1's best and maximises the whole objective, hinted with phase 1's solution (complete and
        feasible). "optimal" only when both phases are proven: then no plan covers more pairs, and none of
        those covering as many scores more (the objective is lexicographic: coverage, then penalties)."""
        first = self.model.clone()
        covered = [first.get_int_var_from_proto_index(t.var.index) for t in coverage]
        first.maximize(sum(covered))
        share = limits.deterministic * COVERAGE_SHARE
        solver, status, cancelled = _solve(first, limits, share, limits.wall, stop, None)
        spent, wall = solver.deterministic_time, solver.wall_time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or cancelled:
            clock = _clock(status, cancelled, spent, wall, share, limits.wall)
            outcome = self._outcome(status, spent, clock, cancelled, hinted)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                outcome.results = self._read(solver)
                outcome.status = "feasible"
            return outcome
        most = round(solver.objective_value)
        coverage_proven = status == cp_model.OPTIMAL
        # what no plan exceeds: weights.COVERED_PAIR x phase 1's bound (every other term is a penalty, <= 0)
        pair_bound = weights.COVERED_PAIR * math.floor(solver.best_objective_bound + 1e-6)
        second = self.model.clone()
        second.add(sum(second.get_int_var_from_proto_index(t.var.index) for t in coverage) >= most)
        second.clear_hints()
        for i in range(len(second.proto.variables)):
            second.proto.solution_hint.vars.append(i)
            second.proto.solution_hint.values.append(solver.value(first.get_int_var_from_proto_index(i)))
        first_results = self._read(solver)
        left = limits.deterministic - spent
        solver, status, cancelled = _solve(second, limits, left, limits.wall - wall, stop, on_solution)
        spent += solver.deterministic_time
        wall += solver.wall_time
        proven = coverage_proven and status == cp_model.OPTIMAL
        clock = _clock(cp_model.OPTIMAL if proven else cp_model.FEASIBLE, cancelled, spent, wall,
                       limits.deterministic, limits.wall)
        outcome = self._outcome(cp_model.OPTIMAL if proven else cp_model.FEASIBLE, spent, clock, cancelled, hinted)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            outcome.results = self._read(solver)
            objective = round(solver.objective_value)
            second_bound = objective if status == cp_model.OPTIMAL else math.floor(solver.best_objective_bound + 1e-6)
            outcome.bound = max(objective, second_bound if coverage_proven else pair_bound)
        else:  # phase 2 found nothing in time (it had phase 1's solution as a hint): phase 1's plan
            outcome.results = first_results
            outcome.bound = max(sum(r.objective for r in first_results.values()), pair_bound)
        return outcome

    def _outcome(self, status, spent: float, clock: bool, cancelled: bool, hinted: Hinted | None) -> Outcome:
        return Outcome(
            status={cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                    cp_model.INFEASIBLE: "infeasible"}.get(status, "unknown"),
            results={}, bound=None, variables=self.variables,
            deterministic=spent + (hinted.deterministic if hinted else 0),
            clock=clock, cancelled=cancelled, current=hinted.current if hinted else {},
        )

    def _read(self, solver: cp_model.CpSolver) -> dict[str, CohortResult]:
        v = self.vars
        out = {}
        for cm in self.cohorts:
            running = [s for s in range(cm.sections) if solver.value(v.used(cm, s))]
            members = _assign_learners(cm, solver, v)
            starts = {}
            for s in running:
                for k in range(cm.session_count):
                    ch = next(ch for ch in v.choices(cm, s, k) if solver.value(ch.var))
                    starts[s, k] = (ch.slot, ch.facilitator)
            days = tuple(solver.value(v.due_day(cm, i)) for i in range(len(cm.modules)))
            assignment = CohortAssignment(cm.name, tuple(tuple(sorted(members[s])) for s in running), starts, days)
            terms = [t for t in self.terms if t.cohort == cm.name]
            objective = sum(t.weight * solver.value(t.var) for t in terms)
            out[cm.name] = CohortResult(assignment, self.narrow[cm.name], int(objective),
                                        tuple(_soft_penalties(terms, solver)))
        return out


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, hook: Callable[[int], None]):
        super().__init__()
        self.hook = hook

    def on_solution_callback(self) -> None:
        self.hook(round(self.objective_value))


class _Watcher:
    """Stops a running solve when `stop.is_set()` turns true (checked every 50 ms); keeps its best solution."""

    def __init__(self, solver: cp_model.CpSolver, stop):
        self.solver, self.stop, self.fired = solver, stop, False
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._finished.wait(0.05):
            if self.stop.is_set():
                self.fired = True
                self.solver.stop_search()
                return

    def done(self) -> None:
        self._finished.set()
        self._thread.join()


def _solve(model: cp_model.CpModel, limits: Limits, deterministic: float, wall: float, stop,
           on_solution: Callable[[int], None] | None) -> tuple[cp_model.CpSolver, int, bool]:
    """One CP-SAT solve with the planner's settings; (solver, status, cancelled by `stop`)."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = max(1, limits.workers)
    # deterministic for a given number of workers (not across numbers); with one worker too, where it searches
    # far better than CP-SAT's single default search (gen-000-one: proven in 4 s against no proof in 10)
    params.interleave_search = True
    params.random_seed = limits.seed
    params.max_deterministic_time = max(0.01, deterministic)
    params.max_time_in_seconds = max(0.05, wall)
    params.cp_model_probing_level = PROBING_LEVEL
    params.max_presolve_iterations = PRESOLVE_ITERATIONS
    params.cp_model_presolve = limits.presolve
    callback = _Callback(on_solution) if on_solution is not None else None
    watcher = _Watcher(solver, stop) if stop is not None else None
    try:
        status = solver.solve(model, callback)
    finally:
        if watcher is not None:
            watcher.done()
    return solver, status, watcher is not None and watcher.fired


def _clock(status, cancelled: bool, spent: float, wall_spent: float, deterministic: float, wall: float) -> bool:
    """The wall clock, not the deterministic budget, cut the solve short."""
    return (not cancelled and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
            and spent < deterministic * 0.98 and wall_spent >= wall * 0.9)


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


def _soft_penalties(terms: list[Term], solver: cp_model.CpSolver) -> list[Penalty]:
    """Every non-coverage soft term that costs something, named after its variable (its reason)."""
    out = []
    for term in terms:
        if term.rule == "coverage":
            continue
        amount = solver.value(term.var)
        if amount:
            name = term.var.name if hasattr(term.var, "name") else term.rule
            out.append(Penalty(rule=term.rule, weight=-term.weight, amount=int(amount),
                               text=describe(term.rule, name, amount)))
    return out


def describe(rule: str, name: str, amount: int) -> str:
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
