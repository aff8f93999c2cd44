"""Designer: seeing a plan — the week calendar and the coverage heat map of a planner run or of a cohort's
published plan, in any member's zone; and what-if variants (planner runs with other parameters) compared side
by side, one of which is published through the runs' own publish path (POST /plans/{run}/publish).

The pictures are computed by server/services/plan_views.py from what server/services/plan_sources.py loads;
variants are server/services/variants.py. Nothing here imports OR-Tools.
"""

from __future__ import annotations

from zoneinfo import available_timezones

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.json_value import json_value
from planner.errors import InputError
from server.auth import access, designer_only
from server.controllers.forms import Form
from server.controllers.requests import now, wants_fragment
from server.db import is_row_id
from server.errors import UserError
from server.jobs import queue
from server.services import cohorts as cohort_service
from server.services import plan_heat, plan_sources, plan_views, planner_runs, variants
from server.services.planning import problem_from_db

VIEWS = ("calendar", "heatmap")
DEFAULT_TIME_LIMIT = 10
MAX_TIME_LIMIT = 60


class BadQuery(Exception):
    """A query parameter that cannot be shown: answered with a one-line 400."""


def _query_int(request: Request, name: str, low: int, high: int, label: str) -> int | None:
    raw = str(request.query_params.get(name, "") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise BadQuery(f"{label} must be a whole number from {low} to {high}.")
    return int(raw)


def _query_zone(request: Request, default: str) -> str:
    raw = str(request.query_params.get("zone", "") or "").strip()
    if not raw:
        return default
    if raw not in available_timezones():
        raise BadQuery(f"{raw[:64]!r} is not a time zone name such as Europe/Berlin.")
    return raw


def _bad(message: str) -> Template:
    return Template("errors/error.html", status_code=400,
                    context={"status": 400, "title": "Cannot show that", "message": message})


def view_context(request: Request, source: plan_sources.Source, view: str, base: str, *,
                 cohort_id: int | None, title: str) -> dict:
    """What the calendar or the heat map page shows, from the query (cohort, week, zone)."""
    shown = source.shown(cohort_id)
    if shown is None:
        raise BadQuery("That cohort is not part of this plan.")
    cohort = shown.cohort
    me = request.user
    zones = source.zones(shown)
    zone = _query_zone(request, me.timezone or "UTC")
    every_zone = {z for z, _who in zones} | {shown.row["timezone"]}
    first_week = 1
    if shown.plan is not None and shown.plan.sessions:
        first_week = max(1, min(cohort.weeks, plan_views.program_week(cohort, shown.plan.sessions[0].start)))
    number = _query_int(request, "week", 1, cohort.weeks, "Week") or first_week
    week = plan_views.week_of(cohort, number, zone, every_zone)
    context = {
        "view": view, "base": base, "title": title, "source": source, "shown": shown, "week": week,
        "zone": zone, "zones": zones, "home_zone": shown.row["timezone"], "my_zone": me.timezone or "UTC",
        "dst_weeks": plan_views.weeks_with_changes(cohort, every_zone),
        "calendar": None, "heat": None,
    }
    if view == "calendar":
        if shown.plan is not None:
            context["calendar"] = plan_views.week_calendar(shown.plan, week, source.people, source.titles)
    else:
        context["heat"] = plan_heat.heat_map(cohort, shown.plan, week, source.minutes, source.people,
                                              source.titles)
    return context


def _render(request: Request, context: dict) -> Template:
    if wants_fragment(request):
        return Template("designer/_plan_view_region.html", context=context)
    return Template("designer/plan_view.html", context=context)


class PlanViewController(Controller):
    """/plans/{run}/calendar, /plans/{run}/heatmap and the what-if variants."""

    path = "/plans"
    opt = access(designer_only)

    async def _run_view(self, request: Request, run_id: int, view: str) -> Response:
        run = await planner_runs.current_run(run_id)
        if run is None:
            raise NotFoundException(f"no planner run {run_id}")
        source = await plan_sources.run_source(run)
        if source is None or not source.cohorts:
            return _bad(f"Planner run {run_id} holds no plan to show (it is {run['status']}).")
        try:
            cohort_id = _query_int(request, "cohort", 1, 2**31 - 1, "Cohort")
            context = view_context(request, source, view, f"/plans/{run_id}", cohort_id=cohort_id,
                                   title=f"Planner run {run_id}")
        except BadQuery as error:
            return _bad(str(error))
        context["run"] = run
        return _render(request, context)

    @get("/{run_id:int}/calendar")
    async def run_calendar(self, request: Request, run_id: FromPath[int]) -> Response:
        return await self._run_view(request, run_id, "calendar")

    @get("/{run_id:int}/heatmap")
    async def run_heatmap(self, request: Request, run_id: FromPath[int]) -> Response:
        return await self._run_view(request, run_id, "heatmap")

    # --- what-if variants ---------------------------------------------------------------------------------

    @get("/variants")
    async def new_variants(self, request: Request) -> Response:
        """The form: which cohorts, and up to four variants of their parameters."""
        ids = sorted({int(v) for v in request.query_params.getall("cohort", [])
                      if v.isascii() and v.isdigit() and is_row_id(int(v))})
        return Template("designer/variants_new.html", context=await _variants_form_context(ids, {}, {}))

    @post("/variants")
    async def start_variants(self, request: Request) -> Response:
        form = await Form.read(request)
        ids = sorted({int(v) for v in form.many("cohort") if v.isascii() and v.isdigit() and is_row_id(int(v))})
        time_limit = form.integer("time_limit", 1, MAX_TIME_LIMIT, default=DEFAULT_TIME_LIMIT, label="Time limit")
        rows = await cohort_service.cohorts_by_id(ids)
        if not rows:
            form.fail("cohort", "Choose at least one cohort.")
        current, candidates = await variants.facilitator_choices([r["id"] for r in rows])
        chosen = read_variants(form, {f["email"] for f in current}, {c["email"] for c in candidates})
        if form.ok and not chosen:
            form.fail("variants", "Describe at least one variant (or keep the first as set).")
        if form.ok:
            try:  # a bad input is shown at once; the worker builds the problem again as of its request
                await problem_from_db([r["id"] for r in rows], now=now(request))
            except (UserError, InputError) as error:
                form.fail("cohort", str(error))
        if not form.ok:
            context = await _variants_form_context(ids, dict(form.fields), form.errors)
            return Template("designer/variants_new.html", context=context, status_code=400)
        comparison, run_ids = await variants.create_comparison(
            rows[0]["program"], [r["name"] for r in rows], chosen, request.user.id, time_limit, now=now(request))
        for run_id in run_ids:
            await anyio.to_thread.run_sync(queue().nudge, run_id)
        return Redirect(f"/plans/variants/{comparison}", status_code=303)

    @get("/variants/{comparison:int}")
    async def show_variants(self, request: Request, comparison: FromPath[int]) -> Template:
        return Template("designer/variants.html", context=await _comparison_context(comparison))

    @get("/variants/{comparison:int}/status")
    async def variants_status(self, request: Request, comparison: FromPath[int]) -> Template:
        """The polling fragment: itself while any variant is still planning, then the comparison."""
        return Template("designer/_variants_status.html", context=await _comparison_context(comparison))


class CohortViewController(Controller):
    """/cohorts/{cohort}/calendar and /heatmap: the cohort's published plan (or, before one, its learners)."""

    path = "/cohorts"
    opt = access(designer_only)

    async def _cohort_view(self, request: Request, cohort_id: int, view: str) -> Response:
        row = await cohort_service.cohort(cohort_id)
        if row is None:
            raise NotFoundException(f"no cohort {cohort_id}")
        source = await plan_sources.cohort_source(row)
        try:
            context = view_context(request, source, view, f"/cohorts/{cohort_id}", cohort_id=None,
                                   title=row["name"])
        except BadQuery as error:
            return _bad(str(error))
        context["run"] = None
        return _render(request, context)

    @get("/{cohort_id:int}/calendar")
    async def cohort_calendar(self, request: Request, cohort_id: FromPath[int]) -> Response:
        return await self._cohort_view(request, cohort_id, "calendar")

    @get("/{cohort_id:int}/heatmap")
    async def cohort_heatmap(self, request: Request, cohort_id: FromPath[int]) -> Response:
        return await self._cohort_view(request, cohort_id, "heatmap")


# ------------------------------------------------------------------------------------------------ variants


def _optional_int(form: Form, name: str, low: int, high: int, label: str) -> int | None:
    raw = str(form.fields.get(name, "") or "").strip()
    if not raw:
        return None
    value = form.integer(name, low, high, label=label)
    return None if name in form.errors else value


def read_variants(form: Form, facilitators: set[str], people: set[str]) -> list[variants.Variant]:
    """Variant rows 1..4 of the form (a row that changes nothing and has no name is left out, except the first,
    which is the plan as set)."""
    found = []
    for i in range(1, variants.MOST_VARIANTS + 1):
        if str(form.fields.get(f"v{i}_on", "") or "") != "1":
            continue
        sections = str(form.fields.get(f"v{i}_sections", "") or "").strip()
        variant = variants.Variant(
            label=form.text(f"v{i}_label", required=False, max_length=80, label=f"Variant {i}'s name"),
            sections=_optional_int(form, f"v{i}_sections", 1, 3, f"Variant {i}: sections") if sections else None,
            weekly_async_minutes=_optional_int(form, f"v{i}_async", *variants.ASYNC_CAP,
                                               f"Variant {i}: weekly async cap"),
            live_minutes=_optional_int(form, f"v{i}_live", *variants.LIVE_LENGTH, f"Variant {i}: session length"),
            facilitator_in=str(form.fields.get(f"v{i}_in", "") or "").strip().lower()[:254],
            facilitator_out=str(form.fields.get(f"v{i}_out", "") or "").strip().lower()[:254],
        )
        if i > 1 and variant.changes_nothing and not variant.label:
            continue  # ticked but left as set: the first variant is the plan as set already
        problem = variants.check_variant(variant, facilitators, people)
        if problem:
            form.fail(f"v{i}", f"Variant {i}: {problem}")
        found.append(variant)
    return found


async def _variants_form_context(ids: list[int], values: dict, errors: dict) -> dict:
    every = await cohort_service.cohorts()
    current, candidates = await variants.facilitator_choices(ids)
    return {"all_cohorts": every, "chosen": set(ids), "current": current, "candidates": candidates,
            "values": values, "errors": errors, "most": variants.MOST_VARIANTS,
            "sections": variants.SECTION_CHOICES, "async_cap": variants.ASYNC_CAP,
            "live_length": variants.LIVE_LENGTH, "time_limit": DEFAULT_TIME_LIMIT, "max_time_limit": MAX_TIME_LIMIT}


async def _comparison_context(comparison: int) -> dict:
    columns = await plan_sources.comparison(comparison)
    if not columns:
        raise NotFoundException(f"no comparison {comparison}")
    first = columns[0].run
    return {"comparison": comparison, "columns": columns,
            "active": any(c.run["status"] in planner_runs.ACTIVE for c in columns),
            "best": max((c.figures.coverage for c in columns if c.figures), default=None),
            "cohort_names": json_value(first["cohort_names"], []),
            "cohort_rows": await cohort_service.cohorts_named(first["program"], json_value(first["cohort_names"], []))}
