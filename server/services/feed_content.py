"""What goes in a person's calendar feed: the rows their roles show them, read in a few queries
(`collect`), and nothing of anyone else's. How it is written is server/services/feed_ical.py; the feed as
served (ETag, stored body) is server/services/feeds.py.

A feed is the union of what a person's roles show them: as a learner, the live sessions of their section and
their cohort's module deadlines; as a facilitator, the sessions they run; as a manager, the live sessions of the
cohorts that hold their reports. Each session appears once. Only the person's own prework status is shown.
A cancelled session stays CANCELLED_VISIBLE; so do the events of a cohort or section the person left (see
`withdrawn_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from models.tables import Cohort, LiveSession
from server.db import fetch, in_list

CANCELLED_VISIBLE = timedelta(days=30)  # a cancelled session stays this long after cancelled_at


@dataclass
class FeedSession:
    row: dict
    units: list[str] = field(default_factory=list)  # "Title (45 min)", in teaching order
    unit_titles: list[str] = field(default_factory=list)
    prework: list[dict] = field(default_factory=list)  # {"id", "title", "due_at"}
    learner_here: bool = False  # the person is a learner of this session's section: show their own status
    withdrawn_at: datetime | None = None  # the person left its cohort or section then: shown as cancelled


@dataclass
class FeedContent:
    person: dict
    sessions: list[FeedSession]
    modules: list[dict]
    completed: dict[int, datetime]  # module id -> when the person completed it (theirs only)

    def last_modified(self) -> datetime:
        """The latest change the feed shows. A change with no stamp of its own (an undone completion, the
        reminders switch) changes the ETag but not this; clients send If-None-Match, which wins."""
        stamps = [self.person["created_at"], *self.completed.values()]
        for session in self.sessions:
            stamps += [session.row["updated_at"], session.row["cancelled_at"]]
        stamps += [module["updated_at"] for module in self.modules]
        stamps += [item.withdrawn_at for item in self.sessions] + [m.get("withdrawn_at") for m in self.modules]
        return max(utc(stamp) for stamp in stamps if stamp is not None)


async def collect(person: dict, *, now: datetime) -> FeedContent:
    """Read everything one person's feed shows, and nothing of anyone else's."""
    person_id = person["id"]
    rows = await fetch("SELECT cohort, role, section, left_at, moved_from, moved_at FROM membership"
                       " WHERE person = {}", person_id)
    memberships = [m for m in rows if m["left_at"] is None]
    learner_sections = {m["section"] for m in memberships if m["role"] == "learner" and m["section"] is not None}
    learner_cohorts = {m["cohort"] for m in memberships if m["role"] == "learner"}
    managed = await fetch("SELECT cohort, left_at FROM membership WHERE manager = {}", person_id)
    manager_cohorts = {m["cohort"] for m in managed if m["left_at"] is None} | {
        m["cohort"] for m in memberships if m["role"] == "manager"}
    withdrawn = _withdrawn(rows, managed, now=now)

    sections = sorted(learner_sections | set(withdrawn.sections))
    cohorts = sorted(manager_cohorts | set(withdrawn.cohorts))
    rows = await fetch(
        f"SELECT s.*, c.name AS cohort_name, g.name AS program_name, p.name AS facilitator_name FROM live_session s"
        f" JOIN cohort c ON c.id = s.cohort LEFT JOIN program g ON g.id = c.program"
        f" LEFT JOIN person p ON p.id = s.facilitator"
        f" WHERE (s.facilitator = {{}} OR s.section IN ({in_list(sections)}) OR s.cohort IN ({in_list(cohorts)}))"
        f" AND (s.status = {{}} OR s.cancelled_at >= {{}}) AND c.status = {{}} ORDER BY s.starts_at, s.uid",
        person_id, *sections, *cohorts, LiveSession.Status.scheduled.value, now - CANCELLED_VISIBLE, _PUBLISHED)
    sessions = {}
    for row in rows:
        still_mine = (row["facilitator"] == person_id or row["section"] in learner_sections
                      or row["cohort"] in manager_cohorts)
        sessions[row["id"]] = FeedSession(row, learner_here=row["section"] in learner_sections,
                                          withdrawn_at=None if still_mine else withdrawn.since(row))

    if sessions:
        units = await fetch(
            f"SELECT su.session, u.title, su.minutes FROM session_unit su JOIN unit u ON u.id = su.unit"
            f" WHERE su.session IN ({in_list(sessions)}) ORDER BY su.session, su.position, su.id", *sessions)
        for unit in units:
            sessions[unit["session"]].units.append(f"{unit['title']} ({unit['minutes']} min)")
            if unit["title"] not in sessions[unit["session"]].unit_titles:
                sessions[unit["session"]].unit_titles.append(unit["title"])
        prework = await fetch(
            f"SELECT sp.session, sp.module AS module_id, am.title, am.due_at FROM session_prework sp"
            f" JOIN async_module am ON am.id = sp.module WHERE sp.session IN ({in_list(sessions)})"
            f" ORDER BY am.due_at, am.uid", *sessions)
        for item in prework:
            sessions[item["session"]].prework.append(
                {"id": item["module_id"], "title": item["title"], "due_at": item["due_at"]}
            )

    modules: list[dict] = []
    if learner_cohorts:
        modules = await _published_modules(sorted(learner_cohorts))
        modules = await _modules_of_my_sections(modules, sorted(learner_cohorts), learner_sections)
    left_cohorts = sorted(set(withdrawn.learner_cohorts) - learner_cohorts)
    if left_cohorts:
        gone = await _published_modules(left_cohorts)
        modules += [{**m, "withdrawn_at": withdrawn.learner_cohorts[m["cohort"]]} for m in gone]
        modules.sort(key=lambda m: (utc(m["due_at"]), m["uid"]))

    completed: dict[int, datetime] = {}
    if learner_cohorts or left_cohorts:
        done = await fetch("SELECT module, completed_at FROM module_completion WHERE person = {}", person_id)
        completed = {row["module"]: row["completed_at"] for row in done}
    ordered = sorted(sessions.values(), key=lambda s: (utc(s.row["starts_at"]), s.row["uid"]))
    return FeedContent(person, ordered, modules, completed)


@dataclass
class _Withdrawn:
    """What a person no longer belongs to but their feed still shows as cancelled, with since when."""

    sections: dict[int, datetime] = field(default_factory=dict)  # section id -> moved out / left at
    cohorts: dict[int, datetime] = field(default_factory=dict)  # cohort id -> left at (staff and managers)
    learner_cohorts: dict[int, datetime] = field(default_factory=dict)  # cohort id -> left at (its deadlines)

    def since(self, session: dict) -> datetime | None:
        stamps = [self.sections.get(session["section"]), self.cohorts.get(session["cohort"])]
        return max((utc(s) for s in stamps if s is not None), default=None)


def _withdrawn(memberships: list[dict], managed: list[dict], *, now: datetime) -> _Withdrawn:
    """Memberships left, sections moved out of and reports who left, in the last CANCELLED_VISIBLE."""
    recent = now - CANCELLED_VISIBLE
    out = _Withdrawn()
    for m in memberships:
        left = m["left_at"]
        if left is not None and utc(left) >= recent:
            if m["role"] == "learner":
                out.learner_cohorts[m["cohort"]] = left
                if m["section"] is not None:
                    out.sections[m["section"]] = left
            else:
                out.cohorts[m["cohort"]] = left
        moved = m["moved_at"]
        if left is None and m["moved_from"] is not None and moved is not None and utc(moved) >= recent \
                and m["moved_from"] != m["section"]:
            out.sections[m["moved_from"]] = moved
    for m in managed:
        if m["left_at"] is not None and utc(m["left_at"]) >= recent:
            out.cohorts[m["cohort"]] = max(m["left_at"], out.cohorts.get(m["cohort"], m["left_at"]))
    return out


_PUBLISHED = Cohort.Status.published.value  # only published cohorts reach a feed


async def _published_modules(cohort_ids: list[int]) -> list[dict]:
    return await fetch(
        f"SELECT am.* FROM async_module am JOIN cohort c ON c.id = am.cohort WHERE am.cohort IN ({in_list(cohort_ids)})"
        f" AND c.status = {{}} ORDER BY am.due_at, am.uid", *cohort_ids, _PUBLISHED)


async def _modules_of_my_sections(modules: list[dict], cohort_ids: list[int], my_sections: set[int]) -> list[dict]:
    """Drop modules that are prework only for other sections' sessions (when a plan gives sections their own)."""
    if not modules:
        return modules
    links = await fetch(
        f"SELECT sp.module, s.section FROM session_prework sp JOIN live_session s ON s.id = sp.session"
        f" WHERE sp.module IN (SELECT id FROM async_module WHERE cohort IN ({in_list(cohort_ids)}))", *cohort_ids)
    sections_of: dict[int, set[int]] = {}
    for link in links:
        sections_of.setdefault(link["module"], set()).add(link["section"])
    return [m for m in modules if m["id"] not in sections_of or sections_of[m["id"]] & my_sections]


def utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:  # SQLite hands back what was stored; Cadence stores only UTC
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)
