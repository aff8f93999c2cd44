"""One benchmark problem in its own process: `python -m bench.planner_bench NAME [--limit S] [--twice]`.

NAME is `gen-SEED` (a problem of `bench.family`) or a key of `bench.family.ROLLOUT`. Runs the greedy baseline,
then the planner, and prints one JSON line: the planner's status, how it stopped, coverage, objective,
bound, components, violations found by the validator, wall seconds (model building included), this
process's peak memory, and the baseline's coverage and wall. `--twice` solves again and says whether the two
plans are byte-identical (`repeatable`) and how the second run stopped: plans are promised identical only when
both runs stopped on their deterministic budget or proved optimality.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from bench.family import ROLLOUT, Generated, problem_for


def generated(name: str) -> Generated:
    if name.startswith("gen-"):
        return problem_for(int(name.split("-")[1]))
    return ROLLOUT[name]()


def run_one(name: str, limit: float | None = None, twice: bool = False) -> dict:
    from planner.baseline import greedy_plan
    from planner.plan import PlanningError, plan_to_json
    from planner.solve import solve
    from planner.validate import validate_plan

    g = generated(name)
    limit = limit or g.time_limit
    out: dict = {"name": g.name, "shape": g.shape, "cohorts": g.cohorts, "learners": g.learners,
                 "shares": g.shares_facilitators, "limit": limit}
    began = time.monotonic()
    try:
        baseline = greedy_plan(g.problem)
        out["baseline"] = {"coverage": baseline.coverage, "violations": len(validate_plan(g.problem, baseline))}
    except PlanningError as error:
        out["baseline"] = {"status": "none", "reason": error.reasons[0]}
    out["baseline"]["wall"] = time.monotonic() - began
    began = time.monotonic()
    try:
        plan = solve(g.problem, time_limit=limit)
    except PlanningError as error:
        out.update(status="none", reason=error.reasons[0], wall=time.monotonic() - began)
        return out
    out.update(
        status=plan.status.value, stopped_by=plan.stopped_by.value, coverage=plan.coverage,
        objective=plan.objective, bound=plan.bound, wall=time.monotonic() - began,
        components=[len(c.cohorts) for c in plan.components],
        largest_model=max((c.largest_model for c in plan.components), default=0),
        violations=len(validate_plan(g.problem, plan)),
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    if twice:
        again = solve(g.problem, time_limit=limit)
        out["again_stopped_by"] = again.stopped_by.value
        out["repeatable"] = plan_to_json(again) == plan_to_json(plan)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--limit", type=float)
    parser.add_argument("--twice", action="store_true")
    args = parser.parse_args()
    from server.solver_memory import few_malloc_arenas

    few_malloc_arenas()  # as `cadence plan` and `cadence worker` do: the memory a user's process peaks at
    print(json.dumps(run_one(args.name, args.limit, args.twice)))
