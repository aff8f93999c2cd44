"""One benchmark run in its own process: `python -m bench.planner_bench SCENARIO planner|baseline`.

Prints one JSON line: status, coverage, objective, bound, violations found by the validator, wall seconds
(model building included) and this process's peak memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from bench.scenarios import SCENARIOS, generate


def run_one(name: str, which: str) -> dict:
    from planner.baseline import greedy_plan
    from planner.plan import PlanningError
    from planner.solve import solve
    from planner.validate import validate_plan

    problem = generate(name)
    began = time.monotonic()
    try:
        if which == "planner":
            plan = solve(problem, time_limit=SCENARIOS[name].time_limit)
        else:
            plan = greedy_plan(problem)
    except PlanningError as error:
        return {"status": "infeasible", "reasons": error.reasons, "wall": time.monotonic() - began}
    wall = time.monotonic() - began
    return {
        "status": plan.status.value,
        "coverage": plan.coverage,
        "objective": plan.objective,
        "bound": plan.bound,
        "violations": len(validate_plan(problem, plan)),
        "wall": wall,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(run_one(sys.argv[1], sys.argv[2])))
