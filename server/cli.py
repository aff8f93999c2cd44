"""The `cadence` command. Each subcommand parses its arguments and calls one function elsewhere.

Bad input prints one line `error: ...` and exits 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadence", description="Cadence, the hybrid cohort scheduler.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the web server", description="Run the web server (uvicorn).")
    serve.add_argument("--host", help="bind address (default CADENCE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CADENCE_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default CADENCE_WORKERS or 1)")

    worker = sub.add_parser("worker", help="run the job worker (planner runs, periodic jobs)",
                            description="Run the job queue's consumer with process workers (Huey). Any number "
                                        "of workers on any number of machines may share a PostgreSQL queue.")
    worker.add_argument("--workers", type=int, help="worker processes (default CADENCE_WORKER_CONCURRENCY or 1)")
    worker.add_argument("--no-periodic", action="store_true",
                        help="do not schedule the periodic jobs here (they are idempotent, so leaving them on is fine)")

    run = sub.add_parser("run", help="run the web server and one worker together (Ctrl+C stops both)",
                         description="Run `cadence serve` and `cadence worker` together; when one stops, or on "
                                     "Ctrl+C, both stop.")
    run.add_argument("--host", help="bind address (default CADENCE_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default CADENCE_PORT or 8000)")

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="bring the database to the current schema",
                      description="Run every pending migration (creates the schema on an empty database).")

    demo = sub.add_parser("demo", help="seed the demo data",
                          description="Seed demo people, the example program and cohorts, and a published plan.")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the database already has people")

    imp = sub.add_parser("import", help="import a program and cohorts from files",
                         description="Import a program TOML and cohort TOML files (with roster CSVs) into the database.")
    imp.add_argument("program", type=Path, metavar="PROGRAM.toml")
    imp.add_argument("cohorts", type=Path, nargs="+", metavar="COHORT.toml")

    plan = sub.add_parser("plan", help="plan cohorts from files (no database)",
                          description="Plan all cohorts together. Exit 0 with a plan, 1 when none exists, 2 on bad input.")
    plan.add_argument("program", type=Path, metavar="PROGRAM")
    plan.add_argument("cohorts", type=Path, nargs="+", metavar="COHORT")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                      help="solver time limit in seconds (default 10)")

    feed = sub.add_parser("feed", help="calendar feed commands", description="Calendar feed commands.")
    feed_sub = feed.add_subparsers(dest="feed_command", required=True, metavar="FEED_COMMAND")
    rotate = feed_sub.add_parser("rotate", help="print a fresh feed URL for a person (the old one stops working)",
                                 description="Issue a fresh calendar-feed URL for EMAIL and revoke the old one.")
    rotate.add_argument("email")
    return parser


def main(argv: list[str] | None = None) -> int:
    # `cadence plan --time-limit T` promises to end within T x 1.10 + 1 s of the command starting; importing
    # the solver alone takes about a second (every heavy import is inside a subcommand), so its limit counts
    # from here. Not from this module's import: a test or a shell calls main() long after that.
    started = time.monotonic()
    args = _build_parser().parse_args(argv)
    args.started = started
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one readable line for anything we know how to name
        message = _known_error_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def _known_error_message(error: Exception) -> str | None:
    from planner.errors import InputError
    from server.settings import ConfigError

    if isinstance(error, InputError | ConfigError):
        return str(error)
    user_error = getattr(error, "cadence_user_error", False)
    return str(error) if user_error else None


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "plan":
        return _plan(args)
    if args.command == "serve":
        from server.app import serve

        return serve(host=args.host, port=args.port, workers=args.workers)
    if args.command == "worker":
        from server.jobs import run_consumer

        return run_consumer(workers=args.workers, periodic=not args.no_periodic)
    if args.command == "run":
        from server.supervisor import supervise

        serve = [sys.executable, "-m", "server.cli", "serve"]
        serve += ["--host", args.host] if args.host else []
        serve += ["--port", str(args.port)] if args.port else []
        return supervise({"web": serve, "worker": [sys.executable, "-m", "server.cli", "worker"]})
    if args.command == "db":
        from models.migrate import upgrade

        asyncio.run(upgrade())
        print("database is at the current schema")
        return 0
    if args.command == "demo":
        from server.demo import seed_demo
        from server.services.clock import utc_now
        from server.settings import Settings

        base_url = Settings.from_env().base_url
        return asyncio.run(seed_demo(if_empty=args.if_empty, now=utc_now(), base_url=base_url))
    if args.command == "import":
        return asyncio.run(import_files(args.program, args.cohorts))
    if args.command == "feed":
        return asyncio.run(rotate_feed(args.email))
    raise AssertionError(args.command)


async def import_files(program: Path, cohorts: list[Path]) -> int:
    """`cadence import PROGRAM.toml COHORT.toml...`: one summary line per cohort. Bad files raise InputError.
    The files are read before the database is touched; the schema is brought up to date first."""
    from models.migrate import upgrade
    from planner.loading import load_problem
    from planner.problem import Role
    from server.services.clock import utc_now
    from server.services.importing import import_problem

    problem = load_problem(program, cohorts)
    await upgrade()
    imported = await import_problem(problem, now=utc_now())
    print(f"program {problem.program.id}: {len(problem.program.units)} units")
    for cohort, cohort_id in zip(problem.cohorts, imported.cohort_ids, strict=True):
        counts = {role: sum(1 for m in cohort.members if m.role is role) for role in Role}
        print(
            f"cohort {cohort.name!r} (id {cohort_id}): {plural(counts[Role.LEARNER], 'learner')}, "
            f"{plural(counts[Role.FACILITATOR], 'facilitator')}, {plural(counts[Role.MANAGER], 'manager')}, "
            f"starts {cohort.start.isoformat()} for {plural(cohort.weeks, 'week')}"
        )
    return 0


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


class UnknownPerson(LookupError):
    """No person with that email; `cadence feed rotate` prints it as one line and exits 2."""

    cadence_user_error = True


async def rotate_feed(email: str) -> int:
    """`cadence feed rotate EMAIL`: print the fresh https URL. Unknown email -> UnknownPerson (exit 2)."""
    from models.tables import Person
    from server.services.clock import utc_now
    from server.services.feed_tokens import feed_urls, rotate_token
    from server.settings import Settings

    settings = Settings.from_env()
    row = await Person.select(Person.id).where(Person.email == email.strip().lower()).first()
    if row is None:
        row = await Person.select(Person.id).where(Person.email == email.strip()).first()
    if row is None:
        raise UnknownPerson(f"feed rotate: no person with email {email!r}")
    token = await rotate_token(row["id"], settings.secret_key, now=utc_now())
    print(feed_urls(settings.base_url, token)["https"])
    return 0


def _plan(args: argparse.Namespace) -> int:
    from planner.loading import load_problem
    from planner.plan import PlanningError, plan_to_json
    from planner.report import render_report
    from planner.solve import solve

    if args.time_limit <= 0:
        print("error: --time-limit: must be a positive number of seconds", file=sys.stderr)
        return 2
    from server.solver_memory import few_malloc_arenas

    few_malloc_arenas()
    problem = load_problem(args.program, args.cohorts)
    try:
        if args.json or not sys.stderr.isatty():
            plan = solve(problem, time_limit=args.time_limit, started=args.started)
        else:
            plan = _solve_showing_progress(problem, args.time_limit, args.started)
    except PlanningError as error:
        if args.json:
            import json

            print(json.dumps({"status": "infeasible", "reasons": error.reasons}, indent=2, ensure_ascii=False))
        else:
            print("No plan exists:")
            for reason in error.reasons:
                print(f"  - {reason}")
        return 1
    print(plan_to_json(plan) if args.json else render_report(problem, plan))
    return 0


def _solve_showing_progress(problem, time_limit: float, started: float):
    """Solve with a progress bar on stderr (a terminal): time used of the limit, the best coverage so far."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from planner.solve import solve

    columns = (TextColumn("planning"), BarColumn(), TimeElapsedColumn(), TextColumn("{task.fields[best]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("plan", total=time_limit, best="")

        def progress(report) -> None:
            gap = abs(report.bound - report.objective) / abs(report.bound) if report.bound else 0.0
            bar.update(task, completed=min(report.elapsed, time_limit),
                       best=f"best coverage {report.coverage:.1%} · gap {gap:.1%} · {report.solutions} plans")

        return solve(problem, time_limit=time_limit, progress=progress, started=started)


if __name__ == "__main__":
    sys.exit(main())
