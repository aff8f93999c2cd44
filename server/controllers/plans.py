"""Designer: planner runs — start one (the solve runs in a worker thread after the response), poll it, show
the plan by week, publish it. The runs themselves are server/services/planner_runs.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

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
from server.controllers.requests import now
from server.db import is_row_id
from server.errors import UserError
from server.services import planner_runs
from server.services.planning import planner_person, problem_from_db
from server.templating import local_text

DEFAULT_TIME_LIMIT = 10
MAX_TIME_LIMIT = 60


async def run_or_404(run_id: int, now: datetime) -> dict:
    row = await planner_runs.current_run(run_id, now=now)
    if row is None:
        raise NotFoundException(f"no planner run {run_id}")
    return row


async def result_context(run: dict) -> dict:
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
        ids = sorted({int(v) for v in form.many("cohort") if v.isascii() and v.isdigit() and is_row_id(int(v))})
        rows = await Cohort.select(Cohort.id, Cohort.name, Cohort.program).where(Cohort.id.is_in(ids or [0]))
        if not rows:
            form.fail("cohort", "Choose at least one cohort to plan.")
        if not form.ok:
            return _problem_page(" ".join(form.errors.values()))
        try:
            problem = await problem_from_db([r["id"] for r in rows], now=now(request))
        except (UserError, InputError) as error:
            return _problem_page(str(error))
        run_id = await planner_runs.create_run(rows[0]["program"], [r["name"] for r in rows], request.user.id,
                                               time_limit, now=now(request))
        return Redirect(f"/plans/{run_id}", status_code=303,
                        background=BackgroundTask(planner_runs.run_planner, run_id, problem, time_limit,
                                                  clock=request.app.state.clock))

    @get("/{run_id:int}")
    async def show(self, request: Request, run_id: FromPath[int]) -> Template:
        run = await run_or_404(run_id, now(request))
        context = await result_context(run)
        return Template("designer/plan.html", context=context)

    @get("/{run_id:int}/status")
    async def status(self, request: Request, run_id: FromPath[int]) -> Template:
        """The polling fragment: itself again while the run is going, the result once it is done."""
        run = await run_or_404(run_id, now(request))
        context = await result_context(run)
        return Template("designer/plan_status.html", context=context)

    @post("/{run_id:int}/publish")
    async def publish(self, request: Request, run_id: FromPath[int]) -> Response:
        await run_or_404(run_id, now(request))
        try:
            await planner_runs.publish_run(run_id, now=now(request))
        except UserError as error:
            return _problem_page(str(error))
        return Redirect(f"/plans/{run_id}", status_code=303)


def _problem_page(message: str) -> Template:
    return Template("errors/error.html", context={"status": 400, "title": "Cannot plan that", "message": message},
                    status_code=400)
