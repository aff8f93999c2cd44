"""Designer: planner runs — start one (a queued row and a nudge; a `cadence worker` process solves it), poll
its progress, cancel it, show the plan by week, publish it. The runs themselves are
server/services/planner_runs.py; the queue is server/jobs.py. Nothing here imports OR-Tools."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.json_value import json_value
from planner import plan as pl
from planner import problem as p
from planner.coverage import inside_hours, minutes_outside, program_week
from planner.errors import InputError
from server.auth import access, designer_only
from server.controllers.forms import Form
from server.controllers.requests import is_htmx, now
from server.db import is_row_id
from server.errors import UserError
from server.jobs import queue
from server.services import cohorts as cohort_service
from server.services import labels, planner_runs
from server.services.planning import planner_people_and_unit_titles, problem_from_db
from server.templating import local_text, utc_text

DEFAULT_TIME_LIMIT = 10
MAX_TIME_LIMIT = 60


async def run_or_404(run_id: int) -> dict:
    row = await planner_runs.current_run(run_id)
    if row is None:
        raise NotFoundException(f"no planner run {run_id}")
    return row


@lru_cache(maxsize=32)
def _plan_of(result_text: str) -> pl.Plan:
    """The plan a run's stored result holds, read once per worker: a finished run's result never changes, and
    reading it parses every instant with strptime (a fifth of the run page). Plans are frozen dataclasses."""
    return pl.plan_from_dict(json_value(result_text, {}))


async def result_context(run: dict) -> dict:
    """Everything the result fragment shows, from the run row and the people it names."""
    stored = run["result"]
    run["result"] = _result_of(stored) if isinstance(stored, str) else json_value(stored, {})
    run["changes"] = json_value(run["changes"], [])
    run["cohort_names"] = json_value(run["cohort_names"], [])
    cohort_rows = await cohort_service.cohorts_named(run["program"], run["cohort_names"])
    context: dict = {"run": run, "cohort_rows": cohort_rows, "plan": None, "weeks": [], "reasons": [],
                     "penalties": run["result"].get("penalties", []),
                     "replan": cohort_service.any_published(cohort_rows)}
    if run["status"] in planner_runs.ACTIVE:
        return context
    if "cohorts" not in run["result"]:
        context["reasons"] = run["result"].get("reasons", [])
        return context
    plan = _plan_of(stored) if isinstance(stored, str) else pl.plan_from_dict(run["result"])
    emails = {s.facilitator for c in plan.cohorts for s in c.sessions}
    people, titles = await planner_people_and_unit_titles(
        emails | {e for c in plan.cohorts for s in c.sections for e in s.learners}, run["program"])
    by_name = {row["name"]: row for row in cohort_rows}
    homes = tuple(sorted((row["name"], row["start_date"], row["weeks"], row["timezone"]) for row in cohort_rows))
    if isinstance(stored, str):  # everything the weeks are made of is in the key: as current as the rows read
        weeks = _weeks_cached(stored, tuple(sorted(people.items())), tuple(sorted(titles.items())), homes)
    else:
        weeks = _weeks_of(plan, people, titles, homes)
    cohorts = [{"plan": cp, "cohort": by_name.get(cp.name), "weeks": cohort_weeks}
               for cp, cohort_weeks in zip(plan.cohorts, weeks, strict=True)]
    gap = None
    if plan.bound:
        gap = abs((plan.bound - plan.objective) / plan.bound)
    elif plan.objective == plan.bound:
        gap = 0.0
    context.update(plan=plan, cohorts=cohorts, gap=gap)
    return context


@lru_cache(maxsize=32)
def _result_of(result_text: str) -> dict:
    """A run's stored result as a dict, parsed once per worker (the page only reads it: never change it)."""
    return json_value(result_text, {})


def _weeks_of(plan: pl.Plan, people: dict[str, p.Person], titles: dict[str, str],
              homes: tuple[tuple, ...]) -> list[list[tuple[int, list[dict]]]]:
    """Each planned cohort's sessions by program week, with their labels, the facilitator's local time and the
    learners it puts outside their hours. Pure: the plan, the people and unit titles read, and each cohort's
    (name, start date, weeks, zone) from `homes`."""
    home_of = {name: p.Cohort(name=name, start=start, weeks=weeks, members=(), timezone=zone)
               for name, start, weeks, zone in homes}
    result = []
    for cp in plan.cohorts:
        home = home_of.get(cp.name)
        learners_of = {s.id: s.learners for s in cp.sections}
        weeks: dict[int, list[dict]] = defaultdict(list)
        for session in cp.sessions:
            lead = people.get(session.facilitator)
            outside = []
            for email in learners_of.get(session.section, ()):
                person = people.get(email)
                if person is None:
                    continue
                if inside_hours(person, session.start, session.end):  # most are: a cached day window
                    continue
                minutes = minutes_outside(person, session.start, session.end)
                if minutes:
                    outside.append({"name": person.name, "minutes": minutes,
                                    "local": local_text(session.start, person.timezone)})
            weeks[program_week(home, session.start) if home else 0].append({
                "session": session,
                "label": labels.plan_session_label((u.unit for u in session.units), titles),
                "units": ", ".join(u.unit for u in session.units),
                "utc": utc_text(session.start),
                "section": labels.section_label(session.section),
                "facilitator": lead.name if lead else session.facilitator,
                "facilitator_local": local_text(session.start, lead.timezone if lead else "UTC"),
                "outside": outside,
                "learners": len(learners_of.get(session.section, ())),
            })
        result.append(sorted(weeks.items()))
    return result


@lru_cache(maxsize=32)
def _weeks_cached(result_text: str, people: tuple, titles: tuple, homes: tuple) -> list:
    """`_weeks_of` once per worker for the same inputs (the run page is polled and revisited; the weeks took a
    quarter of its time). The key holds every input, read fresh on each request, so a changed name, zone,
    hours, title or cohort gives new weeks; the result is shared between requests: only read it."""
    return _weeks_of(_plan_of(result_text), dict(people), dict(titles), homes)


class PlanController(Controller):
    path = "/plans"
    opt = access(designer_only)

    @post("/")
    async def start(self, request: Request) -> Response:
        form = await Form.read(request)
        time_limit = form.integer("time_limit", 1, MAX_TIME_LIMIT, default=DEFAULT_TIME_LIMIT,
                                  label="Time limit")
        ids = sorted({int(v) for v in form.many("cohort") if v.isascii() and v.isdigit() and is_row_id(int(v))})
        rows = await cohort_service.cohorts_by_id(ids)
        if not rows:
            form.fail("cohort", "Choose at least one cohort to plan.")
        if not form.ok:
            return _problem_page(" ".join(form.errors.values()))
        try:  # checked here, so a designer sees a bad input at once; the worker builds it again as of now
            await problem_from_db([r["id"] for r in rows], now=now(request))
        except (UserError, InputError) as error:
            return _problem_page(str(error))
        run_id = await planner_runs.create_run(rows[0]["program"], [r["name"] for r in rows], request.user.id,
                                               time_limit, now=now(request))
        await anyio.to_thread.run_sync(queue().nudge, run_id)  # a worker solves it; the row says how it goes
        return Redirect(f"/plans/{run_id}", status_code=303)

    @get("/{run_id:int}")
    async def show(self, request: Request, run_id: FromPath[int]) -> Template:
        run = await run_or_404(run_id)
        context = await result_context(run)
        return Template("designer/plan.html", context=context)

    @get("/{run_id:int}/status")
    async def status(self, request: Request, run_id: FromPath[int]) -> Template:
        """The polling fragment: itself again while the run is going, the result once it is done."""
        run = await run_or_404(run_id)
        context = await result_context(run)
        return Template("designer/plan_status.html", context=context)

    @post("/{run_id:int}/cancel")
    async def cancel(self, request: Request, run_id: FromPath[int]) -> Response:
        """Stop the run: its worker stops within about a second and keeps the best plan so far."""
        await run_or_404(run_id)
        await planner_runs.request_cancel(run_id, now=now(request))
        if is_htmx(request):
            context = await result_context(await run_or_404(run_id))
            return Template("designer/plan_status.html", context=context)
        return Redirect(f"/plans/{run_id}", status_code=303)

    @post("/{run_id:int}/publish")
    async def publish(self, request: Request, run_id: FromPath[int]) -> Response:
        await run_or_404(run_id)
        try:
            await planner_runs.publish_run(run_id, now=now(request))
        except UserError as error:
            return _problem_page(str(error))
        await anyio.to_thread.run_sync(queue().nudge_email)  # invitations go out now, not at the next minute
        return Redirect(f"/plans/{run_id}", status_code=303)


def _problem_page(message: str) -> Template:
    return Template("errors/error.html", context={"status": 400, "title": "Cannot plan that", "message": message},
                    status_code=400)
