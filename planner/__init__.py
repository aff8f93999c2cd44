"""Cadence's planner: pure Python over dataclasses, OR-Tools CP-SAT inside. Imports no piccolo or litestar.

Public API (see docs/planner.md):
    load_problem(program_path, cohort_paths) -> Problem      # planner.loading, raises InputError
    solve(problem, time_limit=...) -> Plan                   # planner.solve, raises PlanningError
    validate_plan(problem, plan) -> list[Violation]          # planner.validate, never calls the solver
    greedy_plan(problem) -> Plan                             # planner.baseline
    plan_to_json(plan) / plan_to_dict / plan_from_dict       # planner.plan
"""
