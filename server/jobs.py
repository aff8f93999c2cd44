"""The job queue (Huey): the nudges that start background work, and the consumer that `cadence worker` runs.

A front door like the pages and the CLI (STYLE 13, 15): a task only says "look at run N" and calls a service;
the database row is the record. Huey's delivery is at most once (a task killed mid-run is gone), which is why
the periodic reaper re-queues what a dead worker left; nudging a run twice is harmless, since a worker must
claim the run with a conditional update first.

The queue lives in an SQLite file beside an SQLite database (`SqliteHuey`, one machine) or in PostgreSQL
(`PostgresHuey`: `FOR UPDATE SKIP LOCKED` and LISTEN/NOTIFY, any number of consumers on any number of
machines). Tasks are signed with CADENCE_SECRET_KEY (they are pickles), and results are not stored: rows hold
them. This module imports no OR-Tools: the web process loads it to enqueue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from huey import Huey, PostgresHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from huey.serializer import SignedSerializer

from server.settings import Settings

log = logging.getLogger("cadence.jobs")
T = TypeVar("T")
PLAN_RUN_PRIORITY = 10  # periodic tasks have 0


@dataclass(frozen=True)
class Queue:
    """A Huey instance and Cadence's tasks registered on it."""

    huey: Huey
    settings: Settings
    plan_run: TaskWrapper  # plan_run(run_id) enqueues "look at planner run N"
    reap_runs: TaskWrapper  # periodic, every minute (and at each consumer's start)
    mark_absent: TaskWrapper | None = None  # periodic, every minute: absences after the grace period
    notify: TaskWrapper | None = None  # periodic, every minute: schedule and send emails (server/mailer.py)

    def nudge(self, run_id: int) -> None:
        self.plan_run(int(run_id))

    def nudge_email(self) -> None:
        """Schedule and send emails now (after a publish), not at the next minute; harmless when doubled."""
        if self.notify is not None:
            self.notify()


def build_queue(settings: Settings) -> Queue:
    serializer = SignedSerializer(secret=settings.secret_key, salt="cadence-jobs")
    url = settings.queue_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        huey: Huey = SqliteHuey(settings.queue_name, filename=str(path), results=False, serializer=serializer,
                                timeout=30)
    else:
        dsn = url.replace("postgres://", "postgresql://", 1)
        huey = PostgresHuey(settings.queue_name, dsn=dsn, results=False, serializer=serializer)

    # A planner run goes ahead of the periodic chores queued before it (a run the reaper re-queues must not
    # wait behind a long email pass): both Huey stores take the highest priority first.
    @huey.task(name="plan_run", priority=PLAN_RUN_PRIORITY)
    def plan_run(run_id: int) -> None:
        from server.services.clock import utc_now
        from server.services.planner_runs import work_on_run

        solved = _run(work_on_run(run_id, worker_name(), cpus=settings.planner_cpus, clock=utc_now))
        log.info("planner run %s: %s", run_id, "solved" if solved else "not ours (claimed or finished elsewhere)")

    @huey.periodic_task(crontab(minute="*"), name="reap_runs")
    def reap_runs() -> None:
        from server.services.clock import utc_now
        from server.services.planner_runs import reap_stale_runs

        for run_id in _run(reap_stale_runs(now=utc_now(), stale_after=timedelta(seconds=settings.job_stale_after),
                                                  attempts=settings.job_attempts)):
            plan_run(run_id)

    @huey.periodic_task(crontab(minute="*"), name="mark_absent")
    def mark_absent() -> None:
        from server.services.attendance import mark_absent_after_grace
        from server.services.clock import utc_now

        written = _run(mark_absent_after_grace(now=utc_now()))
        if written:
            log.info("marked %s learners absent after the grace period", written)


    @huey.periodic_task(crontab(minute="*"), name="notify")
    def notify() -> None:
        from server.mailer import notify as notify_pass
        from server.services.clock import utc_now

        scheduled, report, interrupted = _run(notify_pass(utc_now(), settings, worker=worker_name()))
        if scheduled.created or report.sent or report.outbox or report.failed or interrupted:
            log.info("email: %s scheduled, %s sent, %s to the outbox, %s retrying, %s failed, %s interrupted",
                     scheduled.created, len(report.sent), len(report.outbox), len(report.retrying),
                     len(report.failed), len(interrupted))

    return Queue(huey, settings, plan_run, reap_runs, mark_absent, notify)


def _run(work: Coroutine[Any, Any, T]) -> T:
    """A task's own event loop, holding the database's connection pool while the work runs."""
    from server.db import connection_pool

    async def pooled() -> T:
        async with connection_pool():
            return await work

    return asyncio.run(pooled())


def queue() -> Queue:
    """The queue the environment names (CADENCE_QUEUE_URL, CADENCE_QUEUE_NAME)."""
    return queue_for(Settings.from_env())


@functools.cache
def queue_for(settings: Settings) -> Queue:
    """One Huey instance per set of settings in a process (it holds the store's connections)."""
    return build_queue(settings)


def worker_name() -> str:
    """Who holds a claim: host and process, so a run's row says which machine ran it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_consumer(*, workers: int | None = None, periodic: bool = True) -> int:
    """`cadence worker`: Huey's consumer with process workers, so a CPU-heavy solve never holds a web worker
    (or another job) back. Ctrl+C / SIGINT stops it gracefully (running solves finish); SIGTERM at once."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    jobs = queue()
    # A solve uses every core it is given; the pages must not wait for it. The worker processes Huey forks
    # inherit this priority (CADENCE_WORKER_NICE).
    if jobs.settings.worker_nice and hasattr(os, "nice"):
        os.nice(jobs.settings.worker_nice)
    from server.solver_memory import few_malloc_arenas

    few_malloc_arenas()  # before Huey forks the worker processes, which inherit it
    consumer = jobs.huey.create_consumer(workers=workers or jobs.settings.worker_concurrency,
                                         worker_type="process", periodic=periodic)
    consumer.run()
    return 0
