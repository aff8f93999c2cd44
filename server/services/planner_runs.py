"""Planner runs: the row that records a run, the worker's half (claim, heartbeat, progress, cancel, the
solve, its outcome), the reaper that takes back what a dead worker left, what a re-plan would change in
words, and publishing the plan a run holds.

The row is the record (STYLE 15): queued -> running -> done / infeasible / failed / cancelled (-> published).
A queued task only says "look at run N" (server/jobs.py); a worker claims the run with a conditional update,
so a second nudge, or a second worker, finds nothing to do. While it solves, the worker's heartbeat writes
the progress and reads `cancel_requested`; a run whose heartbeat goes stale is re-queued by `reap_stale_runs`
a bounded number of times, then failed with a reason. Whichever web process answers a poll reads the row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

from models.json_value import json_value
from models.tables import Cohort, PlannerRun
from planner import plan as pl
from planner import problem as p
from planner.errors import InputError
from server.db import fetch_one, write_transaction
from server.errors import UserError
from server.services import variants
from server.services.clock import Clock, utc_text
from server.services.publishing import publish_plan

HEARTBEAT_SECONDS = 0.5  # how often the worker reads the cancel flag; the heartbeat and progress: every 2nd beat
ACTIVE = (PlannerRun.Status.queued, PlannerRun.Status.running)
log = logging.getLogger("cadence.plans")


async def create_run(
    program_id: int, cohort_names: list[str], requested_by: int | None, time_limit: int, *, now: datetime
) -> int:
    """A queued run, planned as of `now` (the requester's clock) whenever a worker gets to it."""
    row = PlannerRun(program=program_id, cohort_names=list(cohort_names), requested_by=requested_by,
                     status=PlannerRun.Status.queued, time_limit=int(time_limit), started_at=now,
                     planned_at=now, queued_at=now)
    await row.save()
    return row.id


def _outcome(plan: pl.Plan | None, reasons: list[str] | None, notes: dict | None,
             cancelled: bool = False, failed: list[str] | None = None) -> tuple[str, dict]:
    if failed:
        return PlannerRun.Status.failed, {"reasons": list(failed)}
    if plan is not None:
        status = PlannerRun.Status.cancelled if cancelled else PlannerRun.Status.done
        return status, pl.plan_to_dict(plan) | (notes or {})
    if cancelled:
        return PlannerRun.Status.cancelled, {"reasons": list(reasons or ["cancelled before a plan was found"])}
    if reasons:
        return PlannerRun.Status.infeasible, {"reasons": list(reasons)}
    return PlannerRun.Status.failed, {"reasons": ["the planner stopped unexpectedly"]}


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
    `notes` are kept beside the plan for the result page (the penalties' words, the absences avoided).
    For a run solved outside the queue (the demo); a worker stores through its claim instead."""
    status, result = _outcome(plan, reasons, notes)
    await PlannerRun.update({
        PlannerRun.status: status,
        PlannerRun.result: result,
        PlannerRun.changes: list(changes or []),
        PlannerRun.finished_at: now,
    }).where(PlannerRun.id == run_id)


# ------------------------------------------------------------------------------------------- the worker's half


async def claim_run(run_id: int, worker: str, *, now: datetime) -> dict | None:
    """Take a queued run for `worker` (one conditional update: of two claimants, one gets it). None when the
    run is not queued any more (done, claimed by another worker, cancelled, deleted)."""
    rows = await PlannerRun.update({
        PlannerRun.status: PlannerRun.Status.running,
        PlannerRun.claimed_by: worker,
        PlannerRun.attempts: PlannerRun.attempts + 1,
        PlannerRun.heartbeat_at: now,
        PlannerRun.started_at: now,
        PlannerRun.elapsed: 0.0,
        PlannerRun.best_coverage: None,
        PlannerRun.gap: None,
        PlannerRun.solutions: 0,
    }).where(
        (PlannerRun.id == run_id) & (PlannerRun.status == PlannerRun.Status.queued)
        & (PlannerRun.cancel_requested == False)  # noqa: E712 (a column comparison, not a Python bool)
    ).returning(PlannerRun.id)
    if not rows:
        return None
    return await fetch_one("SELECT * FROM planner_run WHERE id = {}", run_id)  # every poll and run page reads it


def _held(run_id: int, worker: str):
    return ((PlannerRun.id == run_id) & (PlannerRun.claimed_by == worker)
            & (PlannerRun.status == PlannerRun.Status.running))


def progress_fields(progress) -> dict:
    """The row's progress columns from a planner.search.Progress."""
    gap = abs(progress.bound - progress.objective) / abs(progress.bound) if progress.bound else None
    return {PlannerRun.elapsed: round(float(progress.elapsed), 2),
            PlannerRun.best_coverage: float(progress.coverage),
            PlannerRun.gap: gap, PlannerRun.solutions: int(progress.solutions)}


async def heartbeat(run_id: int, worker: str, progress=None, *, now: datetime) -> bool | None:
    """The worker is alive (and how far it got): None when the run is no longer this worker's (the reaper
    gave it away), else whether a cancel was asked for."""
    values = {PlannerRun.heartbeat_at: now} | (progress_fields(progress) if progress is not None else {})
    rows = await PlannerRun.update(values).where(_held(run_id, worker)).returning(PlannerRun.cancel_requested)
    return bool(rows[0]["cancel_requested"]) if rows else None


async def cancel_flag(run_id: int, worker: str) -> bool | None:
    """Between heartbeats: None when the run is no longer this worker's, else whether a cancel was asked."""
    row = await PlannerRun.select(PlannerRun.cancel_requested).where(_held(run_id, worker)).first()
    return None if row is None else bool(row["cancel_requested"])


async def _store_claimed(run_id: int, worker: str, plan: pl.Plan | None, reasons: list[str] | None,
                         changes: list[str] | None = None, *, now: datetime, notes: dict | None = None,
                         cancelled: bool = False, failed: list[str] | None = None) -> bool:
    status, result = _outcome(plan, reasons, notes, cancelled, failed)
    rows = await PlannerRun.update({
        PlannerRun.status: status, PlannerRun.result: result, PlannerRun.changes: list(changes or []),
        PlannerRun.finished_at: now, PlannerRun.heartbeat_at: now,
    }).where(_held(run_id, worker)).returning(PlannerRun.id)
    return bool(rows)


async def work_on_run(run_id: int, worker: str, *, cpus: int | None, clock: Clock) -> bool:
    """A worker's whole part in run N: claim it, build the problem as of the request, solve in a thread while
    this loop beats (progress at most once a second, the cancel flag every half second), store the outcome.
    Returns whether this worker solved it (False: someone else had it, or it was taken back meanwhile)."""
    from planner.solve import solve  # the worker's import: the web process never loads OR-Tools

    row = await claim_run(run_id, worker, now=clock())
    if row is None:
        return False
    try:
        problem = await _problem_of(row)
    except (UserError, InputError) as error:
        return await _store_claimed(run_id, worker, None, None, now=clock(), failed=[str(error)])

    stop = threading.Event()
    latest: list = [None]

    def progress(report) -> None:  # called in the solve thread; the loop below writes the latest one
        latest[0] = report

    solving = asyncio.ensure_future(asyncio.to_thread(
        solve, problem, row["time_limit"], workers=cpus, progress=progress, stop=stop))
    beats, cancelled, lost = 0, False, False
    while not solving.done():
        await asyncio.wait({solving}, timeout=HEARTBEAT_SECONDS)
        if solving.done():
            break
        beats += 1
        try:
            if beats % 2 == 0:
                flag = await heartbeat(run_id, worker, latest[0], now=clock())
            else:
                flag = await cancel_flag(run_id, worker)
        except Exception:  # a missed beat (database busy or briefly away) is retried on the next one
            log.warning("planner run %s: heartbeat failed", run_id, exc_info=True)
            continue
        if flag is None:
            lost = True
            stop.set()
        elif flag and not stop.is_set():
            cancelled = True
            stop.set()
    try:
        plan = solving.result()
    except pl.PlanningError as error:
        return not lost and await _store_claimed(run_id, worker, None, error.reasons, now=clock(),
                                                 cancelled=cancelled)
    except Exception:
        log.exception("planner run %s failed", run_id)
        return not lost and await _store_claimed(run_id, worker, None, None, now=clock())
    if lost:
        log.warning("planner run %s was taken back from %s; its result is dropped", run_id, worker)
        return False
    if latest[0] is not None:
        await heartbeat(run_id, worker, latest[0], now=clock())
    changes = plan_changes(problem.previous, plan, problem.busy) if problem.previous else []
    # plan_to_dict leaves out the penalties; keep their words for the result page, and the absences it avoided
    notes = {"penalties": [penalty.text for penalty in plan.penalties], "away": away_words(problem.busy)}
    return await _store_claimed(run_id, worker, plan, None, changes, now=clock(), notes=notes,
                                cancelled=plan.stopped_by == pl.StoppedBy.CANCELLED)


async def _problem_of(row: dict) -> p.Problem:
    from server.services.planning import problem_from_db

    names = json_value(row["cohort_names"], [])
    cohorts = await Cohort.select(Cohort.id).where(Cohort.name.is_in(names or [""]) & (Cohort.program == row["program"]))
    if not cohorts:
        raise UserError("the cohorts of this run no longer exist")
    problem = await problem_from_db([c["id"] for c in cohorts], now=row["planned_at"] or row["started_at"])
    return await variants.apply_to(problem, row.get("variant"))  # a what-if variant's parameters, if any


# ------------------------------------------------------------------------------------------- cancel, reap, read


async def request_cancel(run_id: int, *, now: datetime) -> str | None:
    """Stop a run: a queued one is cancelled at once; a running one is flagged, and its worker stops within
    about a second, keeping the best plan so far. Returns the run's status afterwards (None: no such run)."""
    await PlannerRun.update({
        PlannerRun.status: PlannerRun.Status.cancelled, PlannerRun.cancel_requested: True,
        PlannerRun.finished_at: now, PlannerRun.result: {"reasons": ["cancelled before it started"]},
    }).where((PlannerRun.id == run_id) & (PlannerRun.status == PlannerRun.Status.queued))
    await PlannerRun.update({PlannerRun.cancel_requested: True}).where(
        (PlannerRun.id == run_id) & (PlannerRun.status == PlannerRun.Status.running))
    row = await PlannerRun.select(PlannerRun.status).where(PlannerRun.id == run_id).first()
    return None if row is None else row["status"]


async def reap_stale_runs(*, now: datetime, stale_after: timedelta, attempts: int) -> list[int]:
    """Take back what dead workers left. A running run whose heartbeat is older than `stale_after` is queued
    again while it has had fewer than `attempts` claims, else failed with the reason; a queued run nobody has
    claimed for `stale_after` (its nudge was lost) is nudged again. Returns the runs to nudge.

    Idempotent, so several consumers may run it at once: each change is a compare-and-set on the claim the
    reaper saw (worker and claim count), and a nudge for a run already claimed does nothing."""
    cutoff = now - stale_after
    nudge: list[int] = []
    rows = await PlannerRun.select(
        PlannerRun.id, PlannerRun.status, PlannerRun.heartbeat_at, PlannerRun.started_at, PlannerRun.queued_at,
        PlannerRun.claimed_by, PlannerRun.attempts, PlannerRun.cancel_requested,
    ).where(PlannerRun.status.is_in(list(ACTIVE)))
    for row in rows:
        if row["status"] == PlannerRun.Status.queued:
            if (row["queued_at"] or row["started_at"]) < cutoff:
                nudge.append(row["id"])
            continue
        if (row["heartbeat_at"] or row["started_at"]) >= cutoff:
            continue
        seen = ((PlannerRun.id == row["id"]) & (PlannerRun.status == PlannerRun.Status.running)
                & (PlannerRun.claimed_by == row["claimed_by"]) & (PlannerRun.attempts == row["attempts"]))
        silent = f"the worker {row['claimed_by'] or '(unknown)'} stopped responding"
        if row["cancel_requested"]:
            values = {PlannerRun.status: PlannerRun.Status.cancelled, PlannerRun.finished_at: now,
                      PlannerRun.result: {"reasons": [f"cancelled; {silent} before it stored a plan"]}}
        elif row["attempts"] >= attempts:
            values = {PlannerRun.status: PlannerRun.Status.failed, PlannerRun.finished_at: now,
                      PlannerRun.result: {"reasons": [
                          f"{silent}; the run was tried {row['attempts']} times, the limit, and is not retried"]}}
        else:
            values = {PlannerRun.status: PlannerRun.Status.queued, PlannerRun.claimed_by: "",
                      PlannerRun.queued_at: now}
        taken = await PlannerRun.update(values).where(seen).returning(PlannerRun.id)
        if taken and values[PlannerRun.status] == PlannerRun.Status.queued:
            log.warning("planner run %s: %s; queued again", row["id"], silent)
            nudge.append(row["id"])
    return nudge


async def current_run(run_id: int) -> dict | None:
    """The run's row, or None."""
    return await fetch_one("SELECT * FROM planner_run WHERE id = {}", run_id)  # every poll and run page reads it


def has_plan(run: dict) -> bool:
    return "cohorts" in json_value(run["result"], {})


async def publish_run(run_id: int, *, now: datetime) -> list[str]:
    """Publish the plan a finished run holds (one transaction); the run records what changed and becomes
    `published`. A what-if variant's parameters become the cohorts' and program's own (variants.adopt_variant)."""
    async with write_transaction():
        run = await PlannerRun.select().where(PlannerRun.id == run_id).first()
        if run is None:
            raise UserError(f"no planner run {run_id}")
        publishable = run["status"] == PlannerRun.Status.done or (
            run["status"] == PlannerRun.Status.cancelled and has_plan(run))
        if not publishable:
            raise UserError(f"planner run {run_id} has no plan to publish (it is {run['status']})")
        plan = pl.plan_from_dict(json_value(run["result"], {}))
        names = [c.name for c in plan.cohorts]
        rows = await Cohort.select(Cohort.id).where(Cohort.name.is_in(names) & (Cohort.program == run["program"]))
        await variants.check_publishable(run)
        await variants.adopt_variant(run.get("variant"), run["program"], [r["id"] for r in rows])
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
