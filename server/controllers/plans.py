"""Designer: planner runs — start one (the solve runs in a worker thread after the response), poll it, show
the plan by week, publish it.

The run's state lives in the PlannerRun row, so whichever worker process answers a poll sees it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.json_value import json_value
from models.tables import Cohort, Person, PlannerRun
from planner import plan as pl
from planner import problem as p
from planner.coverage import minutes_outside, program_week
from planner.errors import InputError
from server.auth import designer_only
from server.controllers.forms import Form
from server.errors import UserError
from server.planning import create_run, finish_run, planner_person, problem_from_db, publish_run
from server.templating import local_text, utc_text

DEFAULT_TIME_LIMIT = 10
MAX_TIME_LIMIT = 60
log = logging.getLogger("cadence.plans")


async def run_planner(run_id: int, problem: p.Problem, time_limit: int) -> None:
    """The background half of a run: solve in a worker thread (CP-SAT releases the GIL), store the outcome."""
    from planner.solve import solve

    try:
        plan = await anyio.to_thread.run_sync(partial(solve, problem, time_limit=time_limit))
    except pl.PlanningError as error:
        await finish_run(run_id, None, error.reasons)
        return
    except Exception:
        log.exception("planner run %s failed", run_id)
        await finish_run(run_id, None, None)
        return
    changes = plan_changes(problem.previous, plan, problem.busy) if problem.previous else []
    await finish_run(run_id, plan, None, changes)
    # plan_to_dict leaves out the penalties; keep their words for the result page, and the absences it avoided
    result = pl.plan_to_dict(plan) | {"penalties": [penalty.text for penalty in plan.penalties],
                                      "away": away_words(problem.busy)}
    await PlannerRun.update({PlannerRun.result: result}).where(PlannerRun.id == run_id)


def away_words(busy: tuple[p.Busy, ...]) -> list[str]:
    """The facilitators' absences a run planned around, in words (other cohorts' sessions are left out)."""
    return [f"{b.email} is {b.reason} from {utc_text(b.start)} to {utc_text(b.end)}"
            for b in busy if b.reason.startswith("away")]


def _clash(busy: tuple[p.Busy, ...], email: str, session: pl.Session) -> p.Busy | None:
    return next((b for b in busy if b.email == email and b.start < session.end and session.start < b.end), None)


def _busy_words(busy: p.Busy) -> str:
    if busy.reason.startswith("away"):
        return f"is {busy.reason}"
    return f"has {busy.reason} then" if busy.reason else "is busy then"


def plan_changes(previous: pl.Plan, plan: pl.Plan, busy: tuple[p.Busy, ...] = ()) -> list[str]:
    """What a re-plan moves, in words, before it is published: sessions moved, re-staffed, added, dropped.
    A session that leaves a time its facilitator is now busy (away) says so."""
    lines: list[str] = []
    for cohort in plan.cohorts:
        try:
            before = {s.id: s for s in previous.cohort(cohort.name).sessions}
        except KeyError:
            continue
        after = {s.id: s for s in cohort.sessions}
        for sid, new in after.items():
            old = before.get(sid)
            if old is None:
                lines.append(f"{cohort.name}: new session {sid} at {utc_text(new.start)}")
                continue
            clash = _clash(busy, old.facilitator, old)
            because = f" because {old.facilitator} {_busy_words(clash)}" if clash else ""
            if old.start != new.start:
                lines.append(f"{cohort.name}: {sid} moves from {utc_text(old.start)} to {utc_text(new.start)}"
                             f"{because}")
                because = ""
            if old.facilitator != new.facilitator:
                lines.append(f"{cohort.name}: {sid} is now led by {new.facilitator} (was {old.facilitator})"
                             f"{because}")
        for sid, old in before.items():
            if sid not in after:
                lines.append(f"{cohort.name}: {sid} at {utc_text(old.start)} is dropped (it will be cancelled)")
    return lines


STALE_AFTER = timedelta(minutes=2)  # beyond the time limit: the worker that ran it has gone (restart, crash)


async def run_or_404(run_id: int) -> dict:
    row = await PlannerRun.select().where(PlannerRun.id == run_id).first()
    if row is None:
        raise NotFoundException(f"no planner run {run_id}")
    overdue = row["started_at"] + timedelta(seconds=row["time_limit"]) + STALE_AFTER
    if row["status"] == PlannerRun.Status.running and datetime.now(UTC) > overdue:
        await finish_run(run_id, None, None)  # "failed": the page offers to plan again
        row = await PlannerRun.select().where(PlannerRun.id == run_id).first()
    return row


async def result_context(run: dict, viewer_zone: str) -> dict:
    """Everything the result fragment shows, from the run row and the people it names."""
    run["result"] = json_value(run["result"], {})
    run["changes"] = json_value(run["changes"], [])
    run["cohort_names"] = json_value(run["cohort_names"], [])
    cohort_rows = await Cohort.select().where(
        Cohort.name.is_in(run["cohort_names"] or [""]) & (Cohort.program == run["program"]))
    context: dict = {"run": run, "cohort_rows": cohort_rows, "plan": None, "weeks": [], "reasons": [],
                     "penalties": run["result"].get("penalties", []),
                     "replan": any(row["status"] == Cohort.Status.published for row in cohort_rows)}
    if run["status"] in (PlannerRun.Status.infeasible, PlannerRun.Status.failed):
        context["reasons"] = run["result"].get("reasons", [])
        return context
    if run["status"] == PlannerRun.Status.running or "cohorts" not in run["result"]:
        return context
    plan = pl.plan_from_dict(run["result"])
    people = await _planner_people(plan)
    by_name = {row["name"]: row for row in cohort_rows}
    cohorts = []
    for cp in plan.cohorts:
        row = by_name.get(cp.name)
        home = p.Cohort(name=cp.name, start=row["start_date"], weeks=row["weeks"], members=(),
                        timezone=row["timezone"]) if row else None
        learners_of = {s.id: s.learners for s in cp.sections}
        weeks: dict[int, list[dict]] = defaultdict(list)
        for session in cp.sessions:
            lead = people.get(session.facilitator)
            outside = []
            for email in learners_of.get(session.section, ()):
                person = people.get(email)
                if person is None:
                    continue
                minutes = minutes_outside(person, session.start, session.end)
                if minutes:
                    outside.append({"name": person.name, "minutes": minutes,
                                    "local": local_text(session.start, person.timezone)})
            weeks[program_week(home, session.start) if home else 0].append({
                "session": session,
                "facilitator": lead.name if lead else session.facilitator,
                "facilitator_local": local_text(session.start, lead.timezone if lead else "UTC"),
                "outside": outside,
                "learners": len(learners_of.get(session.section, ())),
            })
        cohorts.append({"plan": cp, "cohort": row, "weeks": sorted(weeks.items())})
    gap = None
    if plan.bound:
        gap = abs((plan.bound - plan.objective) / plan.bound)
    elif plan.objective == plan.bound:
        gap = 0.0
    context.update(plan=plan, cohorts=cohorts, gap=gap)
    return context


async def _planner_people(plan: pl.Plan) -> dict[str, p.Person]:
    emails = {s.facilitator for c in plan.cohorts for s in c.sessions}
    emails |= {e for c in plan.cohorts for s in c.sections for e in s.learners}
    rows = await Person.select().where(Person.email.is_in(sorted(emails) or [""]))
    return {row["email"]: planner_person(row) for row in rows}


class PlanController(Controller):
    path = "/plans"
    guards = [designer_only]

    @post("/")
    async def start(self, request: Request) -> Response:
        form = await Form.read(request)
        time_limit = form.integer("time_limit", 1, MAX_TIME_LIMIT, default=DEFAULT_TIME_LIMIT,
                                  label="Time limit")
        ids = sorted({int(v) for v in form.many("cohort") if v.isdigit()})
        rows = await Cohort.select(Cohort.id, Cohort.name, Cohort.program).where(Cohort.id.is_in(ids or [0]))
        if not rows:
            form.fail("cohort", "Choose at least one cohort to plan.")
        if not form.ok:
            return _problem_page(" ".join(form.errors.values()))
        try:
            problem = await problem_from_db([r["id"] for r in rows], now=datetime.now(UTC))
        except (UserError, InputError) as error:
            return _problem_page(str(error))
        run_id = await create_run(rows[0]["program"], [r["name"] for r in rows], request.user.id, time_limit)
        return Redirect(f"/plans/{run_id}", status_code=303,
                        background=BackgroundTask(run_planner, run_id, problem, time_limit))

    @get("/{run_id:int}")
    async def show(self, request: Request, run_id: FromPath[int]) -> Template:
        run = await run_or_404(run_id)
        context = await result_context(run, request.user.timezone)
        return Template("designer/plan.html", context=context)

    @get("/{run_id:int}/status")
    async def status(self, request: Request, run_id: FromPath[int]) -> Template:
        """The polling fragment: itself again while the run is going, the result once it is done."""
        run = await run_or_404(run_id)
        context = await result_context(run, request.user.timezone)
        return Template("designer/plan_status.html", context=context)

    @post("/{run_id:int}/publish")
    async def publish(self, request: Request, run_id: FromPath[int]) -> Response:
        await run_or_404(run_id)
        try:
            await publish_run(run_id, now=datetime.now(UTC), published_by=request.user.id)
        except UserError as error:
            return _problem_page(str(error))
        return Redirect(f"/plans/{run_id}", status_code=303)


def _problem_page(message: str) -> Template:
    return Template("errors/error.html", context={"status": 400, "title": "Cannot plan that", "message": message},
                    status_code=400)
