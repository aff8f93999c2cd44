"""Managers: readiness of their reports for upcoming sessions, completion and attendance rates, and the CSV
they download."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import NamedTuple

from models.tables import Attendance, LiveSession, Membership
from server.db import fetch, in_list
from server.services.clock import check_aware
from server.services.schedule import SessionRow, completions, prework_by_session, session_rows

ATTENDED = frozenset({Attendance.Status.present.value, Attendance.Status.late.value})


class LearnerReadiness(NamedTuple):
    """One report for one session (a named tuple, not a frozen dataclass: a page of 100 reports makes one per
    report and upcoming session, and a frozen dataclass's __init__ cost more than the rest of the row)."""

    person_id: int
    name: str
    email: str
    missing: tuple[str, ...]  # titles of prework modules not done

    @property
    def ready(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class SessionReadiness:
    """One upcoming session and the manager's reports in its section. Who is missing what is worked out when
    asked for (`learners`, `not_ready`): the readiness page lists it for the next session only, and counts the
    others, so a page of 100 reports does not build a row per report for every upcoming session."""

    session: SessionRow
    prework_titles: tuple[str, ...]
    reports: tuple[dict, ...] = ()  # my reports in the session's section, by name: person_id, name, email
    prework: tuple[int, ...] = ()  # the prework's module ids, in prework_titles' order
    done: Mapping[int, frozenset[int]] = field(default_factory=dict)  # person id -> prework modules done

    # cached (the dataclass is frozen, the rows never change): the page asks for each several times
    @cached_property
    def learners(self) -> tuple[LearnerReadiness, ...]:
        return tuple(self._readiness(r) for r in self.reports)

    @cached_property
    def ready_count(self) -> int:
        needed, nothing = frozenset(self.prework), frozenset()
        return sum(1 for r in self.reports if needed <= self.done.get(r["person_id"], nothing))

    @property
    def not_ready_count(self) -> int:
        return len(self.reports) - self.ready_count

    @cached_property
    def not_ready(self) -> tuple[LearnerReadiness, ...]:
        needed, nothing = frozenset(self.prework), frozenset()
        return tuple(self._readiness(r) for r in self.reports if not needed <= self.done.get(r["person_id"], nothing))

    def _readiness(self, report: dict) -> LearnerReadiness:
        done = self.done.get(report["person_id"], frozenset())
        return LearnerReadiness(report["person_id"], report["name"], report["email"],
                                tuple(title for m, title in zip(self.prework, self.prework_titles, strict=True)
                                      if m not in done))

    @property
    def percent_ready(self) -> int:
        return round(100 * self.ready_count / len(self.reports)) if self.reports else 0


@dataclass(frozen=True)
class CohortRates:
    """Rates over a manager's reports in one cohort.

    completion: modules done out of modules due so far (each report × each module due before now);
    overall: modules done out of all modules; attendance: present or late out of all marked attendance for
    sessions that have started.
    """

    cohort_id: int
    cohort_name: str
    reports: int
    due_so_far: int
    done_of_due: int
    total: int
    done_total: int
    attendance_marked: int
    attended: int

    @property
    def completion_percent(self) -> int | None:
        return round(100 * self.done_of_due / self.due_so_far) if self.due_so_far else None

    @property
    def overall_percent(self) -> int | None:
        return round(100 * self.done_total / self.total) if self.total else None

    @property
    def attendance_percent(self) -> int | None:
        return round(100 * self.attended / self.attendance_marked) if self.attendance_marked else None


@dataclass(frozen=True)
class ManagerReadiness:
    sessions: tuple[SessionReadiness, ...]  # upcoming sessions holding at least one report, by start
    cohorts: tuple[CohortRates, ...]  # by name


async def manager_readiness(manager_id: int, *, now: datetime) -> ManagerReadiness:
    """Readiness of the manager's reports (Membership.manager = the manager) for upcoming sessions, and rates."""
    check_aware(now)
    reports = await fetch(
        "SELECT m.cohort, m.section, c.name AS cohort_name, p.id AS person_id, p.name, p.email FROM membership m"
        " JOIN cohort c ON c.id = m.cohort JOIN person p ON p.id = m.person"
        " WHERE m.manager = {} AND m.role = {} AND m.left_at IS NULL",
        manager_id, Membership.Role.learner.value)
    if not reports:
        return ManagerReadiness(sessions=(), cohorts=())
    person_ids = sorted({r["person_id"] for r in reports})
    cohort_ids = sorted({r["cohort"] for r in reports})
    section_ids = sorted({r["section"] for r in reports if r["section"] is not None})

    upcoming = ()
    if section_ids:
        upcoming = await session_rows(f"s.section IN ({in_list(section_ids)}) AND s.starts_at > {{}} AND s.status = {{}}",
                                      *section_ids, now, LiveSession.Status.scheduled.value)
    prework = await prework_by_session([s.id for s in upcoming])
    # each module with how many of the manager's reports in its cohort did it, counted in SQL (every report's
    # every completion was read and counted in Python: most of a page of 100 reports)
    modules = await fetch(
        "SELECT am.id, am.cohort, am.title, am.due_at, (SELECT COUNT(*) FROM module_completion mc"
        " JOIN membership m ON m.person = mc.person AND m.cohort = am.cohort WHERE mc.module = am.id"
        " AND m.manager = {} AND m.role = {} AND m.left_at IS NULL) AS done_by_reports"
        f" FROM async_module am WHERE am.cohort IN ({in_list(cohort_ids)})",
        manager_id, Membership.Role.learner.value, *cohort_ids)
    module_by_id = {m["id"]: m for m in modules}
    done: dict[int, set[int]] = {}  # person -> prework modules done (the prework's completions only)
    for module, person in await completions(person_ids, [m for needed in prework.values() for m in needed]):
        done.setdefault(person, set()).add(module)
    done_sets = {person: frozenset(modules) for person, modules in done.items()}

    by_section: dict[tuple[int, int], list[dict]] = {}  # (cohort, section) -> reports by name, sorted once
    by_cohort: dict[int, list[dict]] = {}
    for r in sorted(reports, key=lambda r: (r["name"].casefold(), r["email"])):
        by_cohort.setdefault(r["cohort"], []).append(r)
        if r["section"] is not None:
            by_section.setdefault((r["cohort"], r["section"]), []).append(r)
    sessions = tuple(
        SessionReadiness(session=session, prework_titles=tuple(module_by_id[m]["title"] for m in needed),
                         reports=tuple(by_section.get((session.cohort_id, session.section_id), ())),
                         prework=tuple(needed),
                         done=done_sets)
        for session in upcoming for needed in (prework.get(session.id, []),))

    attendance = await _attendance_counts(manager_id, now=now)
    cohorts = []
    for cohort_id in cohort_ids:
        people = {r["person_id"] for r in by_cohort[cohort_id]}
        cohort_modules = [m for m in modules if m["cohort"] == cohort_id]
        due = [m for m in cohort_modules if m["due_at"] <= now]
        marked, attended = attendance.get(cohort_id, (0, 0))
        cohorts.append(
            CohortRates(
                cohort_id=cohort_id,
                cohort_name=by_cohort[cohort_id][0]["cohort_name"],
                reports=len(people),
                due_so_far=len(due) * len(people),
                done_of_due=sum(m["done_by_reports"] for m in due),
                total=len(cohort_modules) * len(people),
                done_total=sum(m["done_by_reports"] for m in cohort_modules),
                attendance_marked=marked,
                attended=attended,
            )
        )
    cohorts.sort(key=lambda c: c.cohort_name.casefold())
    return ManagerReadiness(sessions=sessions, cohorts=tuple(cohorts))


CSV_COLUMNS = ("session", "start_utc", "learner", "email", "ready", "missing")


def readiness_csv(readiness: ManagerReadiness) -> str:
    """One line per (upcoming session, report): the CSV the manager downloads. Missing titles joined by '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in readiness.sessions:
        label = session_label(item.session)
        start = item.session.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for learner in item.learners:
            writer.writerow(
                [label, start, learner.name, learner.email, "yes" if learner.ready else "no", "; ".join(learner.missing)]
            )
    return buffer.getvalue()


def session_label(session: SessionRow) -> str:
    """`Support Atlantic - March 2027 (section a)` — what a person calls a session besides its time."""
    section = session.section_key.rsplit("/", 1)[-1]
    return f"{session.cohort_name} (section {section})" if section else session.cohort_name



async def _attendance_counts(manager_id: int, *, now: datetime) -> dict[int, tuple[int, int]]:
    """cohort id -> (attendance marked, of it present or late) of the manager's current reports in that cohort,
    for sessions that have started: counted in SQL (every mark of every report was read and counted in Python)."""
    rows = await fetch(
        "SELECT s.cohort, COUNT(*) AS marked, SUM(CASE WHEN a.status IN ({}, {}) THEN 1 ELSE 0 END) AS attended"
        " FROM attendance a JOIN live_session s ON s.id = a.session"
        " JOIN membership m ON m.person = a.person AND m.cohort = s.cohort"
        " WHERE m.manager = {} AND m.role = {} AND m.left_at IS NULL AND s.starts_at <= {} GROUP BY s.cohort",
        *sorted(ATTENDED), manager_id, Membership.Role.learner.value, now)
    return {row["cohort"]: (int(row["marked"]), int(row["attended"] or 0)) for row in rows}
