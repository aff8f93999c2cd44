"""Planner runs: the row that records a run (running, done, infeasible, failed, published), the solve that
fills it, what a re-plan would change in words, and publishing the plan a run holds.

The run's state lives in the PlannerRun row, so whichever worker process answers a poll sees it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

import anyio.to_thread

from models.json_value import json_value
from models.tables import Cohort, PlannerRun
from planner import plan as pl
from planner import problem as p
from server.db import write_transaction
from server.errors import UserError
from server.services.clock import Clock, utc_text
from server.services.publishing import publish_plan

STALE_AFTER = timedelta(minutes=2)  # beyond the time limit: the worker that ran it has gone (restart, crash)
log = logging.getLogger("cadence.plans")


async def create_run(
    program_id: int, cohort_names: list[str], requested_by: int | None, time_limit: int, *, now: datetime
) -> int:
    row = PlannerRun(program=program_id, cohort_names=list(cohort_names), requested_by=requested_by,
                     status=PlannerRun.Status.running, time_limit=int(time_limit), started_at=now)
    await row.save()
    return row.id


async def finish_run(
    run_id: int,
    plan: pl.Plan | None,
    reasons: list[str] | None,
    changes: list[str] | None = None,
    *,
    now: datetime,
    notes: dict | None = None,
) -> None:
    """Store a run's outcome: a plan (done), reasons why none exists (infeasible), or neither (failed).
    `notes` are kept beside the plan for the result page (the penalties' words, the absences avoided)."""
    if plan is not None:
        status, result = PlannerRun.Status.done, pl.plan_to_dict(plan) | (notes or {})
    elif reasons:
        status, result = PlannerRun.Status.infeasible, {"reasons": list(reasons)}
    else:
        status, result = PlannerRun.Status.failed, {"reasons": ["the planner stopped unexpectedly"]}
    await PlannerRun.update({
        PlannerRun.status: status,
        PlannerRun.result: result,
        PlannerRun.changes: list(changes or []),
        PlannerRun.finished_at: now,
    }).where(PlannerRun.id == run_id)


async def run_planner(run_id: int, problem: p.Problem, time_limit: int, *, clock: Clock) -> None:
    """The background half of a run: solve in a worker thread (CP-SAT releases the GIL), store the outcome."""
    from planner.solve import solve

    try:
        plan = await anyio.to_thread.run_sync(partial(solve, problem, time_limit=time_limit))
    except pl.PlanningError as error:
        await finish_run(run_id, None, error.reasons, now=clock())
        return
    except Exception:
        log.exception("planner run %s failed", run_id)
        await finish_run(run_id, None, None, now=clock())
        return
    changes = plan_changes(problem.previous, plan, problem.busy) if problem.previous else []
    # plan_to_dict leaves out the penalties; keep their words for the result page, and the absences it avoided
    notes = {"penalties": [penalty.text for penalty in plan.penalties], "away": away_words(problem.busy)}
    await finish_run(run_id, plan, None, changes, now=clock(), notes=notes)


async def current_run(run_id: int, *, now: datetime) -> dict | None:
    """The run's row, or None. A run still "running" long after its time limit is stored as failed first:
    the worker that ran it has gone, and the page offers to plan again."""
    row = await PlannerRun.select().where(PlannerRun.id == run_id).first()
    if row is None:
        return None
    overdue = row["started_at"] + timedelta(seconds=row["time_limit"]) + STALE_AFTER
    if row["status"] == PlannerRun.Status.running and now > overdue:
        await finish_run(run_id, None, None, now=now)
        row = await PlannerRun.select().where(PlannerRun.id == run_id).first()
    return row


async def publish_run(run_id: int, *, now: datetime) -> list[str]:
    """Publish the plan a finished run holds (one transaction); the run records what changed and becomes
    `published`."""
    async with write_transaction():
        run = await PlannerRun.select().where(PlannerRun.id == run_id).first()
        if run is None:
            raise UserError(f"no planner run {run_id}")
        if run["status"] != PlannerRun.Status.done:
            raise UserError(f"planner run {run_id} has no plan to publish (it is {run['status']})")
        plan = pl.plan_from_dict(json_value(run["result"], {}))
        names = [c.name for c in plan.cohorts]
        rows = await Cohort.select(Cohort.id).where(Cohort.name.is_in(names) & (Cohort.program == run["program"]))
        changes = await publish_plan(plan, [r["id"] for r in rows], now=now)
        await PlannerRun.update({PlannerRun.status: PlannerRun.Status.published, PlannerRun.changes: changes}).where(
            PlannerRun.id == run_id
        )
    return changes


# --------------------------------------------------------------------------------------------- in words


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
