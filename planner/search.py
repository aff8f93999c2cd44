"""The anytime search behind `solve`: a valid plan first, then better ones until the time limit.

1. **Constructive plan** (`planner.construct`): cohort by cohort, facilitators booked first come. It is the
   floor: every later step starts from the current plan and keeps a change only when it scores higher.
2. **Components.** Cohorts that share no facilitator, directly or through other cohorts, never interact;
   each component is planned on its own, so no model ever holds more than one component.
3. **Bounds** without a solver (`planner.bounds`), tightened by every solve that proves one.
4. **Each component on its own budget, in parallel.** A component gets the share of the deterministic
   budget its cohorts' model sizes give it, and steps 5 and 6 run inside it; independent components run at
   the same time (up to SIDE_BY_SIDE, or one per worker when there are more, biggest first; each solve
   keeps every CP-SAT worker and the OS shares the cores), so the single-threaded parts of one (building a
   model, presolve, reading a plan) overlap the solves of another. One after the other (one worker, or
   SIDE_BY_SIDE = 1) they run on the same budgets and give the same plans.
5. **One solve per cohort**, by model size: a cohort alone in its component is solved as itself (its whole
   share of the budget); a cohort that shares facilitators is solved with the others' current sessions
   taken ("fit"). A component where some cohort fits nowhere is solved as one model, which either finds a
   plan or proves there is none.
6. **Large-neighbourhood search.** The cohort furthest from its bound, with the cohorts that share most of
   its facilitators (as many as a model of bounded size holds), is solved again with the rest held; the
   result is kept when better. Until every cohort is at its bound, nothing is left to try, the
   deterministic budget is spent, or the clock runs out.
7. **What components leave** (a component proven optimal early spends less than its share) goes to one
   more large-neighbourhood search over the whole run, with every worker, after the parallel step: the
   leftover is a sum of budgets, so this stays repeatable.

Every solve starts from a complete hint of the current plan, stops on a deterministic budget (repeatable)
and on what is left of the wall clock (a promise); `stopped_by` says which ended the search. A component's
search reads and writes only its own cohorts' entries, so components never wait for each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

from planner.assignment import covered_pairs
from planner.bounds import coverage_bound, floor_score
from planner.construct import construct_cohort
from planner.groups import CohortResult, GroupModel, Limits, Outcome
from planner.model import CohortModel, cohort_models
from planner.problem import Problem
from planner.slots import span_of

# Deterministic work the search may do per second of time limit, and what building a model counts for. Set
# so that on a 2-core machine the budget, not the clock, normally ends the search (docs/benchmarks.md).
DETERMINISTIC_PER_SECOND = 0.7
BUILD_PER_VARIABLE = 2e-5
FIRST_PASS_SHARE = 0.6  # of the budget, for steps 3 and 4 (one solve per cohort), by model size
MAX_GROUP_COHORTS = 6
SIDE_BY_SIDE = 4  # components searched at once (more when there are more workers); 1: one after the other
MAX_GROUP_CHOICES = 40_000  # candidate (start, facilitator) pairs in one large-neighbourhood model
ROOM = 60_000  # variables in the models that components side by side solve at once (memory; a group ~40,000)
RESERVE = 0.03  # of the limit, kept back for reading the plan out
# A cohort alone solved lexicographically (coverage, then penalties: `GroupModel.run(lexicographic=True)`).
# Off: on the loaded 2-core machine of 2026-12-02 it proved gen-004-one (1.42 deterministic units) but left
# rollout-01 at 2.8% from its bound where the weighted model reaches 0.3% (docs/benchmarks.md, notes).
LEXICOGRAPHIC_ALONE = False
# A cohort alone in its component is searched without CP-SAT's presolve. On 33 one-cohort problems of the
# family (seeds 100-196 held out from the bench, and the bench's), 2 s each: proven optimal 25 -> 28, no gap
# worse; at 10 s rollout-01 is proven optimal in 3.9 s (was 0.28% from the bound). Groups of cohorts keep it:
# there it was as often worse as better (docs/benchmarks.md, session 5 notes).
PRESOLVE_ALONE = False
WIDE_REACH = 1  # weeks either side of a wide cohort's current weeks that one solve may move a session


@dataclass(frozen=True)
class Progress:
    """What `solve` reports while it runs (at most a few times a second, and once at the end)."""

    elapsed: float  # seconds since the call
    objective: int  # of the best plan so far
    bound: int  # no plan scores more than this
    coverage: float  # of the best plan so far
    solutions: int  # improving plans found so far (the constructive plan is the first)


@dataclass
class _Budget:
    """Deterministic work one part of the search may still do (a component's share, or the leftover)."""

    total: float
    left: float

    def slice(self) -> float:
        return max(0.2, self.total / 20)


@dataclass
class _Best:
    result: CohortResult
    pairs: int
    covered: int
    constructive: bool


class Search:
    def __init__(self, problem: Problem, time_limit: float, workers: int, seed: int,
                 progress: Callable[[Progress], None] | None, stop, began: float):
        self.problem = problem
        self.limit = time_limit
        self.began = began
        self.deadline = began + time_limit * (1 - RESERVE)
        self.total = time_limit * DETERMINISTIC_PER_SECOND
        self.workers, self.seed = workers, seed
        self.progress, self.stop = progress, stop
        self.models: dict[str, CohortModel] = {cm.name: cm for cm in cohort_models(problem, True)}
        self.order = [c.name for c in problem.cohorts]
        self.people = {m.email: m.person for c in problem.cohorts for m in c.members}
        self.span = span_of(problem.program)
        self.best: dict[str, _Best] = {}
        self.bound: dict[str, int] = {}  # per cohort: no plan of it scores more (set once its mode is known)
        self.proven: set[str] = set()  # cohorts whose whole component is proven optimal
        self.infeasible: list[str] = []  # cohorts with no plan even alone (proven)
        self.largest: dict[str, int] = {}
        self.components = self._components()
        self.clock = self.cancelled = False
        self.solutions = 0
        self._reported = 0.0
        self._lock = threading.Lock()  # components' threads: the shared plans, counters and progress
        self._shown: dict[str, int] = {}  # per component (first cohort): the objective progress has reported
        self._roomy = threading.Condition()  # guards _in_use: choices in the models being solved now
        self._in_use = 0
        self._preparing = 0.0  # seconds per candidate choice that building a model and its hint take (average)

    # ------------------------------------------------------------------------------------------ the steps

    def run(self) -> None:
        self._construct()
        for name, cm in self.models.items():
            best = self.best.get(name)
            self.bound[name] = coverage_bound(self.problem, cm, best.result.narrow if best else False)
        self.solutions = 1 if self.best else 0
        self._report(force=True)
        sizes = {name: max(1, self._choices(cm)) for name, cm in self.models.items()}
        everything = sum(sizes.values())
        budgets = [_Budget(share, share) for share in
                   (self.total * sum(sizes[n] for n in component) / everything for component in self.components)]
        # With two or more workers, up to SIDE_BY_SIDE components at once even on two cores: a component
        # queued behind two big ones got no time at all before the clock ran out (gen-174 of the family).
        parallel = 1 if self.workers < 2 or SIDE_BY_SIDE < 2 else min(len(self.components),
                                                                      max(self.workers, SIDE_BY_SIDE))
        if parallel == 1:
            for component, budget in zip(self.components, budgets, strict=True):
                if not self.infeasible:  # one component without a plan: the run has none
                    self._component(component, budget, sizes)
        else:  # biggest first, so the small ones fill the cores at the end
            order = sorted(range(len(self.components)), key=lambda i: (-budgets[i].total, i))
            with ThreadPoolExecutor(parallel, thread_name_prefix="planner-component") as pool:
                done = [pool.submit(self._component, self.components[i], budgets[i], sizes) for i in order]
                for future in done:
                    future.result()
        if self.infeasible:
            return
        leftover = sum(max(0.0, b.left) for b in budgets)
        self._neighbourhoods(self.order, _Budget(leftover, leftover))

    def _component(self, component: list[str], budget: _Budget, sizes: dict[str, int]) -> None:
        """Steps 5 and 6 for one component, within its budget."""
        first_pass = budget.total * FIRST_PASS_SHARE
        mine = sum(sizes[n] for n in component)
        for name in component:
            if self._out(budget):
                break
            if len(component) == 1:  # its only solve: its whole share
                self._alone(name, budget)
            else:
                self._fit(name, first_pass * sizes[name] / mine, budget)
        if len(component) > 1:
            self._joint(component, budget)
        if not self.infeasible:
            self._neighbourhoods(component, budget)

    def _construct(self) -> None:
        """The constructive plan; cohorts it cannot place go first in a second try."""
        failed = self._construct_in(self.order)
        if failed:
            retry = failed + [n for n in self.order if n not in failed]
            kept = dict(self.best)
            self.best.clear()
            if len(self._construct_in(retry)) >= len(failed):
                self.best = kept

    def _construct_in(self, order: list[str]) -> list[str]:
        taken: dict[str, set[int]] = {}
        failed = []
        for name in order:
            cm = self.models[name]
            found = construct_cohort(self.problem, cm, taken)
            if found is None:
                failed.append(name)
                continue
            assignment, narrow = found
            for email, points in assignment.points(self.span).items():
                taken.setdefault(email, set()).update(points)
            pairs, covered = covered_pairs(cm, assignment, self.people)
            floor = floor_score(cm, self.problem.program, len(assignment.sections), covered)
            self.best[name] = _Best(CohortResult(assignment, narrow, floor, (), exact=False), pairs, covered, True)
        return failed

    def _alone(self, name: str, budget: _Budget) -> None:
        """Step 5 for a cohort alone in its component: narrow weeks first, wide when narrow has no plan."""
        current = self.best.get(name)
        outcome = self._solve([name], {name: True}, None, budget.left, budget,
                              lexicographic=LEXICOGRAPHIC_ALONE, presolve=PRESOLVE_ALONE)
        if outcome.status == "infeasible":
            outcome = self._solve([name], {name: False}, None, budget.left, budget,
                                  lexicographic=LEXICOGRAPHIC_ALONE, presolve=PRESOLVE_ALONE)
            if outcome.status == "infeasible":
                if current is None:
                    self.infeasible.append(name)
                return
        if outcome.bound is not None:
            self.bound[name] = min(self.bound[name], outcome.bound) if outcome.status != "optimal" else outcome.bound
        scored = outcome.current.get(name)
        if current is not None and scored is not None and not current.result.exact:
            # the same plan, now with the model's exact score (the cohort's terms do not depend on others)
            self.best[name] = _Best(scored, current.pairs, current.covered, current.constructive)
        result = outcome.results.get(name)
        if result is None:
            return
        self._offer({name: result}, outcome.from_current)
        if outcome.status == "optimal":
            self.proven.add(name)

    def _fit(self, name: str, share: float, budget: _Budget) -> None:
        """Step 5: the cohort's best plan beside the others' current sessions (their time taken)."""
        taken = self._taken(self._component_of(name), exclude={name})
        current = self.best.get(name)
        narrow = {name: current.result.narrow if current else True}
        outcome = self._solve([name], narrow, taken, share, budget)
        if outcome.status == "infeasible" and narrow[name]:
            outcome = self._solve([name], {name: False}, taken, share, budget)
        if outcome.results:
            self._offer(outcome.results, outcome.from_current)

    def _joint(self, component: list[str], budget: _Budget) -> None:
        """Cohorts that fit nowhere beside the others: the whole component in one model, with what the
        clock leaves. Proven infeasible there means no plan exists."""
        missing = [n for n in component if n not in self.best]
        if not missing:
            return
        allowed = max(budget.left, budget.slice())
        for narrow in (True, False):
            outcome = self._solve(component, {n: narrow for n in component}, None, allowed, budget,
                                  spend_anyway=True)
            if outcome.results:
                self._offer(outcome.results)
                return
            if outcome.status != "infeasible":
                return
        with self._lock:
            self.infeasible += component

    def _neighbourhoods(self, names: list[str], budget: _Budget) -> None:
        """Step 6: re-solve the cohort furthest from its bound with the cohorts sharing its facilitators."""
        tried: dict[tuple, float] = {}
        while not self._out(budget):
            picked = None
            for name in sorted((n for n in names if n in self.best),
                               key=lambda n: (-self._gap(n), self.order.index(n))):
                if self._gap(name) <= 0:
                    break
                if name in self.proven:
                    continue
                group = self._group(name)
                key = (tuple(group), tuple(self._version(n) for n in self._around(group)))
                if tried.get(key, 0.0) * 2 <= budget.left and tried.get(key, 0.0) < budget.total:
                    picked = (group, key)
                    break
            if picked is None:
                return
            group, key = picked
            deterministic = min(budget.left, max(budget.slice(), 2 * tried.get(key, 0.0)))
            tried[key] = deterministic
            narrow = {n: self.best[n].result.narrow for n in group}
            outcome = self._solve(group, narrow, self._taken(self._component_of(group[0]), exclude=set(group)),
                                  deterministic, budget)
            if outcome.results:
                self._offer(outcome.results, outcome.from_current)
            component = self._component_of(group[0])
            if outcome.status == "optimal" and set(group) == set(component):
                self.proven.update(group)

    # ------------------------------------------------------------------------------------------ solving

    def _solve(self, names: list[str], narrow: dict[str, bool], taken, deterministic: float, budget: _Budget,
               spend_anyway: bool = False, lexicographic: bool = False, presolve: bool = True) -> Outcome:
        sub = replace(self.problem, cohorts=tuple(c for c in self.problem.cohorts if c.name in names))
        began = time.monotonic()
        wall = self.deadline - began
        choices = sum(self._choices(self.models[n]) for n in names)
        if wall <= choices * self._preparing or (deterministic <= 0 and not spend_anyway):
            # no time left to build the model and complete its hint, let alone to solve it
            self.clock = self.clock or wall <= choices * self._preparing
            return Outcome("unknown", {}, None, 0, 0.0)
        group = GroupModel(sub, narrow, taken, within=self._within(names, narrow))
        built = time.monotonic() - began
        with self._room(group.variables):
            return self._solve_in_room(group, names, deterministic, budget, spend_anyway, lexicographic, presolve,
                                       built, choices)

    @contextmanager
    def _room(self, variables: int) -> Iterator[None]:
        """Components side by side solve models of at most ROOM variables in all at once (a solve's memory
        grows with its model: gen-007 peaked at 1.7 GiB side by side, 0.8 GiB one after the other); a solve
        waits for room. Waiting changes when a solve runs, never what it finds."""
        want = min(variables, ROOM)
        with self._roomy:
            while self._in_use and self._in_use + want > ROOM:
                self._roomy.wait()
            self._in_use += want
        try:
            yield
        finally:
            with self._roomy:
                self._in_use -= want
                self._roomy.notify_all()

    def _solve_in_room(self, group: GroupModel, names: list[str], deterministic: float, budget: _Budget,
                       spend_anyway: bool, lexicographic: bool, presolve: bool, built: float,
                       choices: int) -> Outcome:
        key = self._component_key(names[0])
        self.largest[key] = max(self.largest.get(key, 0), group.variables)
        budget.left -= group.variables * BUILD_PER_VARIABLE
        began = time.monotonic()
        hinted = group.hint({n: self.best[n].result.assignment for n in names if n in self.best},
                            wall=self.deadline - began)
        rate = (built + time.monotonic() - began) / max(1, choices)
        self._preparing = rate if not self._preparing else (self._preparing + rate) / 2

        def on_solution(objective: int) -> None:
            self._report(objective=objective, solving=names)

        allowed = deterministic if spend_anyway else min(deterministic, budget.left)
        # every solve gets every worker, whatever runs beside it: CP-SAT's interleaved search gives one answer
        # for a given number of workers but not across numbers (1 and 2 differ), so sharing them out by what
        # happens to be running made runs stopped on their budget differ (gen-005 of the bench)
        limits = Limits(max(0.01, allowed), self.deadline - time.monotonic(), self.workers, self.seed, presolve)
        outcome = group.run(limits, self.stop, on_solution if self.progress else None, hinted, lexicographic)
        if not outcome.results and outcome.current:
            outcome.results = dict(outcome.current)  # no better plan: at least the current ones, scored exactly
        budget.left -= outcome.deterministic
        self.clock |= outcome.clock
        self.cancelled |= outcome.cancelled
        return outcome

    def _within(self, names: list[str], narrow: dict[str, bool]) -> dict[str, tuple[tuple[int, int], ...]]:
        """Wide cohorts with a current plan search WIDE_REACH weeks either side of its weeks, not every week
        (a wide model over the whole window is ~10x a narrow one; the bound still counts every week)."""
        out = {}
        for name in names:
            best = self.best.get(name)
            if narrow[name] or best is None:
                continue
            starts = best.result.assignment.starts
            cm = self.models[name]
            out[name] = tuple(
                (min(starts[s, k][0].week for s in range(len(best.result.assignment.sections))) - WIDE_REACH,
                 max(starts[s, k][0].week for s in range(len(best.result.assignment.sections))) + WIDE_REACH)
                for k in range(cm.session_count)
            )
        return out

    def _offer(self, results: dict[str, CohortResult], from_current: bool = False) -> bool:
        """Keep the results when, together, they score more than the current plans of those cohorts. A solve
        that started from the current plans (`from_current`) is never worse: it also replaces a rough score
        with the model's exact one."""
        before = sum(self.best[n].result.objective for n in results if n in self.best)
        missing = [n for n in results if n not in self.best]
        after = sum(r.objective for r in results.values())
        if not missing and not from_current and after <= before:
            return False
        kept = {}
        for name, result in results.items():
            pairs, covered = covered_pairs(self.models[name], result.assignment, self.people)
            previous = self.best.get(name)
            same = previous is not None and previous.constructive and previous.result.assignment == result.assignment
            kept[name] = _Best(result, pairs, covered, same)
        with self._lock:
            self.best.update(kept)
            self.solutions += 1
        self._report()
        return True

    # ------------------------------------------------------------------------------------------ helpers

    def _out(self, budget: _Budget) -> bool:
        if self.stop is not None and self.stop.is_set():
            self.cancelled = True
        late = time.monotonic() >= self.deadline
        self.clock |= late
        # `clock` also notes a solve that the clock cut or left out (too big for the time left); other, smaller
        # solves may still fit, so only the deadline itself stops the search
        return self.cancelled or late or bool(self.infeasible) or budget.left <= 0

    def _gap(self, name: str) -> int:
        best = self.best.get(name)
        return self.bound[name] - best.result.objective if best else self.bound[name]

    def _version(self, name: str):
        best = self.best.get(name)
        return None if best is None else best.result.objective

    def _taken(self, names: list[str], exclude: set[str]) -> dict[str, set[int]]:
        """Facilitator time held by the current plans of `names` (a component: no one else shares its
        facilitators) other than `exclude`."""
        taken: dict[str, set[int]] = {}
        for name in names:
            best = self.best.get(name)
            if best is not None and name not in exclude:
                for email, points in best.result.assignment.points(self.span).items():
                    taken.setdefault(email, set()).update(points)
        return taken

    @staticmethod
    def _choices(cm: CohortModel) -> int:
        per_week: dict[int, int] = {}
        for slot in cm.slots:
            per_week[slot.week] = per_week.get(slot.week, 0) + len(slot.facilitators)
        return sum(per_week.get(lo, 0) for lo, _hi in cm.weeks) * cm.sections

    def _facilitators(self, name: str) -> set[str]:
        return {f.email for f in self.models[name].cohort.facilitators}

    def _components(self) -> list[list[str]]:
        """Cohorts linked by shared facilitators, each list in input order, components by first cohort."""
        parent = {name: name for name in self.order}

        def root(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        first_of: dict[str, str] = {}
        for name in self.order:
            for email in sorted(self._facilitators(name)):
                if email in first_of:
                    parent[root(name)] = root(first_of[email])
                else:
                    first_of[email] = name
        groups: dict[str, list[str]] = {}
        for name in self.order:
            groups.setdefault(root(name), []).append(name)
        return list(groups.values())

    def _component_of(self, name: str) -> list[str]:
        return next(c for c in self.components if name in c)

    def _component_key(self, name: str) -> str:
        return self._component_of(name)[0]

    def _group(self, name: str) -> list[str]:
        """The cohort and the cohorts sharing most of its facilitators, while the model stays small."""
        mine = self._facilitators(name)
        neighbours = [n for n in self._component_of(name) if n != name and self._facilitators(n) & mine]
        neighbours.sort(key=lambda n: (-len(self._facilitators(n) & mine), -self._gap(n), self.order.index(n)))
        group, size = [name], self._choices(self.models[name])
        for n in neighbours:
            more = self._choices(self.models[n])
            if len(group) >= MAX_GROUP_COHORTS or size + more > MAX_GROUP_CHOICES:
                break
            group.append(n)
            size += more
        return sorted(group, key=self.order.index)

    def _around(self, group: list[str]) -> list[str]:
        """The group and every cohort sharing a facilitator with it: what a re-solve depends on."""
        emails = set().union(*(self._facilitators(n) for n in group))
        return [n for n in self.order if n in group or self._facilitators(n) & emails]

    def _report(self, objective: int | None = None, solving: list[str] = (), force: bool = False) -> None:
        """Progress, at most every 0.25 s. `objective`: a solve's improving objective for the cohorts
        `solving`, reported with the current plans of the rest."""
        if self.progress is None:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._reported < 0.25:
                return
            self._reported = now
            best = dict(self.best)
            pairs = sum(b.pairs for b in best.values())
            covered = sum(b.covered for b in best.values())
            for component in self.components:
                # a component's own total: its current plans, or a running solve's plan beside the rest of
                # it; components are independent, so their totals add up to a plan of the whole run, and
                # each only grows (components solving at once report in any order)
                value = sum(best[n].result.objective for n in component if n in best)
                if objective is not None and solving and solving[0] in component:
                    value = max(value, objective + sum(best[n].result.objective for n in component
                                                       if n in best and n not in solving))
                key = component[0]
                self._shown[key] = max(self._shown.get(key, value), value)
            self.progress(Progress(
                elapsed=round(now - self.began, 3),
                objective=sum(self._shown.values()),
                bound=sum(self.bound.values()),
                coverage=covered / pairs if pairs else 1.0,
                solutions=self.solutions,
            ))
