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
from server.services.schedule import SessionRow, completions, session_rows

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


# My current reports, one row per membership (a cohort and a person).
_REPORTS = (
    "SELECT m.cohort, m.section, c.name AS cohort_name, p.id AS person_id, p.name, p.email FROM membership m"
    " JOIN cohort c ON c.id = m.cohort JOIN person p ON p.id = m.person"
    " WHERE m.manager = {} AND m.role = {} AND m.left_at IS NULL"
)


def _cohorts_sql(cohort_ids: list[int], session_ids: list[int]) -> str:
    """My reports' cohorts, each with the attendance of my reports in its started sessions (marked, of it
    present or late), each of its modules with how many of my reports in it did it (a cohort without modules:
    one row of NULLs), and each of the upcoming sessions `session_ids` that needs the module as prework (a row
    each). The counts are grouped in derived tables, computed once (a count per module row ran again for each
    prework row). `{}`: the attended statuses, the manager, the learner role, now, the manager, the learner role,
    `session_ids`, `cohort_ids`.

    The reports' ids are read first and passed as lists: with them as subqueries, PostgreSQL's plan for tables
    it has no statistics on yet (a new install) scanned the memberships once per prework row (1.1 ms)."""
    return (
        "SELECT c.id AS cohort, att.marked, att.attended, am.id, am.title, am.due_at, done.n AS done_by_reports,"
        " sp.session AS prework_of"
        " FROM cohort c LEFT JOIN (SELECT s.cohort, COUNT(*) AS marked,"
        " SUM(CASE WHEN a.status IN ({}, {}) THEN 1 ELSE 0 END) AS attended"
        " FROM attendance a JOIN live_session s ON s.id = a.session"
        " JOIN membership m ON m.person = a.person AND m.cohort = s.cohort"
        " WHERE m.manager = {} AND m.role = {} AND m.left_at IS NULL AND s.starts_at <= {} GROUP BY s.cohort) att"
        " ON att.cohort = c.id LEFT JOIN async_module am ON am.cohort = c.id"
        " LEFT JOIN (SELECT mc.module, COUNT(*) AS n FROM module_completion mc"
        " JOIN async_module dm ON dm.id = mc.module JOIN membership m ON m.person = mc.person AND m.cohort = dm.cohort"
        " WHERE m.manager = {} AND m.role = {} AND m.left_at IS NULL GROUP BY mc.module) done ON done.module = am.id"
        f" LEFT JOIN session_prework sp ON sp.module = am.id AND sp.session IN ({in_list(session_ids)})"
        f" WHERE c.id IN ({in_list(cohort_ids)})"
    )


async def manager_readiness(manager_id: int, *, now: datetime) -> ManagerReadiness:
    """Readiness of the manager's reports (Membership.manager = the manager) for upcoming sessions, and rates.

    Four queries (my reports; the upcoming sessions of their sections; their cohorts with attendance and
    modules, each module with its completions and the upcoming sessions that need it; the reports' completions
    of that prework): the cohorts' modules, the prework and the attendance were three queries of their own."""
    check_aware(now)
    mine = (manager_id, Membership.Role.learner.value)
    reports = await fetch(_REPORTS, *mine)
    if not reports:
        return ManagerReadiness(sessions=(), cohorts=())
    person_ids = sorted({r["person_id"] for r in reports})
    cohort_ids = sorted({r["cohort"] for r in reports})
    section_ids = sorted({r["section"] for r in reports if r["section"] is not None})

    upcoming = ()
    if section_ids:
        upcoming = await session_rows(f"s.section IN ({in_list(section_ids)}) AND s.starts_at > {{}} AND s.status = {{}}",
                                      *section_ids, now, LiveSession.Status.scheduled.value)
    session_ids = [s.id for s in upcoming]
    modules, attendance, prework = {}, {}, {}  # prework: session -> its modules' rows
    for row in await fetch(_cohorts_sql(cohort_ids, session_ids), *sorted(ATTENDED), *mine, now, *mine,
                           *session_ids, *cohort_ids):
        attendance[row["cohort"]] = (int(row["marked"] or 0), int(row["attended"] or 0))
        if row["id"] is not None:
            row["done_by_reports"] = int(row["done_by_reports"] or 0)
            modules.setdefault(row["id"], row)
            if row["prework_of"] is not None:
                prework.setdefault(row["prework_of"], []).append(row)
    modules = list(modules.values())
    for needed in prework.values():
        needed.sort(key=lambda m: (m["due_at"], m["id"]))
    done: dict[int, set[int]] = {}  # person -> prework modules done (the prework's completions only)
    for module, person in await completions(person_ids, [m["id"] for needed in prework.values() for m in needed]):
        done.setdefault(person, set()).add(module)
    done_sets = {person: frozenset(did) for person, did in done.items()}

    by_section: dict[tuple[int, int], list[dict]] = {}  # (cohort, section) -> reports by name, sorted once
    by_cohort: dict[int, list[dict]] = {}
    for r in sorted(reports, key=lambda r: (r["name"].casefold(), r["email"])):
        by_cohort.setdefault(r["cohort"], []).append(r)
        if r["section"] is not None:
            by_section.setdefault((r["cohort"], r["section"]), []).append(r)
    sessions = tuple(
        SessionReadiness(session=session, prework_titles=tuple(m["title"] for m in needed),
                         reports=tuple(by_section.get((session.cohort_id, session.section_id), ())),
                         prework=tuple(m["id"] for m in needed), done=done_sets)
        for session in upcoming for needed in (prework.get(session.id, ()),))

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
