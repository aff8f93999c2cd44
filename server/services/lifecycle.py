"""The cohort lifecycle: members leave, learners move between sections and transfer to another cohort (a roster
CSV's update of a cohort: services/roster_update.py). Every change is one transaction with its RosterChange row.

A member who leaves is never deleted: the Membership row keeps `left_at`, who removed them and why, so their
attendance and completions stay attached and the roster shows "left on …". Every "who is in the cohort" query
reads only rows with `left_at` null (readiness, rosters, section learners, the planner input, learner pages);
feeds show what a person left as cancelled for CANCELLED_VISIBLE (server/services/feed_content.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from models.tables import (
    AsyncModule,
    Attendance,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Section,
)
from planner.coverage import minutes_outside
from server.db import fetch, in_list, write_transaction
from server.errors import UserError
from server.services import roster_changes
from server.services.clock import check_aware
from server.services.planning import planner_person

ATTENDED = frozenset({Attendance.Status.present.value, Attendance.Status.late.value})


def current_members(cohort_id: int):
    """The where-clause of a cohort's members now (those who left keep their rows, with `left_at`)."""
    return (Membership.cohort == cohort_id) & Membership.left_at.is_null()


def section_label(key: str) -> str:
    """'support-atlantic/a' -> 'section a'."""
    return f"section {key.rsplit('/', 1)[-1]}" if key else "no section"


async def member(cohort_id: int, membership_id: int) -> dict | None:
    """A current member of the cohort with their person's name, zone and hours, or None."""
    return await Membership.select(
        Membership.id, Membership.role, Membership.section, Membership.manager,
        Membership.person.id.as_alias("person_id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
        Membership.person.work_start.as_alias("work_start"),
        Membership.person.work_end.as_alias("work_end"),
        Membership.person.work_days.as_alias("work_days"),
        Membership.section.key.as_alias("section_key"),
    ).where(current_members(cohort_id) & (Membership.id == membership_id)).first()


async def _member_or_error(cohort_id: int, membership_id: int) -> dict:
    row = await member(cohort_id, membership_id)
    if row is None:
        raise UserError("That person is not a current member of this cohort.")
    return row


# ------------------------------------------------------------------------------------------------ history


async def former_members(cohort_id: int) -> list[dict]:
    """Members who left, newest first, with who removed them, why, and the history they keep: modules done
    and sessions attended in this cohort. One query whatever the cohort's size: the two counts are subqueries
    on each row (they were two more queries over every former member's rows)."""
    attended = sorted(ATTENDED)
    return await fetch(
        "SELECT m.id, m.role, m.left_at, m.left_reason, b.name AS left_by_name, p.id AS person_id, p.name, p.email,"
        " x.key AS section,"
        " (SELECT COUNT(*) FROM module_completion mc JOIN async_module am ON am.id = mc.module"
        "  WHERE mc.person = p.id AND am.cohort = m.cohort) AS modules_done,"
        " (SELECT COUNT(*) FROM attendance a JOIN live_session s ON s.id = a.session"
        f"  WHERE a.person = p.id AND s.cohort = m.cohort AND a.status IN ({in_list(attended)})) AS sessions_attended"
        " FROM membership m LEFT JOIN person b ON b.id = m.left_by"
        " LEFT JOIN person p ON p.id = m.person LEFT JOIN section x ON x.id = m.section"
        " WHERE m.cohort = {} AND m.left_at IS NOT NULL ORDER BY m.left_at DESC, m.id DESC", *attended, cohort_id)


# ------------------------------------------------------------------------------------------------- remove


async def remove_member(cohort_id: int, membership_id: int, *, actor: int, now: datetime, reason: str = "") -> str:
    """The member leaves the cohort (the row and its history stay); their name."""
    check_aware(now)
    async with write_transaction():
        row = await _member_or_error(cohort_id, membership_id)
        await Membership.update({Membership.left_at: now, Membership.left_by: actor,
                                 Membership.left_reason: reason or "removed"}).where(Membership.id == membership_id)
        words = f"removed {row['name']} ({row['role']})" + (f": {reason}" if reason else "")
        await roster_changes.record("removed", actor=actor, person=row["person_id"], cohort=cohort_id,
                                    details=words, now=now)
    return row["name"]


# ---------------------------------------------------------------------------------------------------- move


@dataclass(frozen=True)
class SessionChoice:
    starts_at: datetime
    ends_at: datetime
    minutes_outside: int  # of the learner's working hours, on that date in their zone


@dataclass(frozen=True)
class SectionChoice:
    id: int
    key: str
    label: str
    learners: int
    current: bool
    sessions: tuple[SessionChoice, ...]  # upcoming scheduled sessions, by start

    @property
    def outside_count(self) -> int:
        return sum(1 for s in self.sessions if s.minutes_outside)

    @property
    def outside_minutes(self) -> int:
        return sum(s.minutes_outside for s in self.sessions)


async def section_choices(cohort_id: int, learner: dict, *, now: datetime) -> tuple[SectionChoice, ...]:
    """Every section of the cohort with its upcoming sessions as they fall for this learner (a `member` row):
    their local time is shown by the page, and here how many minutes each lies outside their hours."""
    check_aware(now)
    person = planner_person(learner)
    sections = await Section.select(Section.id, Section.key).where(Section.cohort == cohort_id).order_by(Section.key)
    sessions = await LiveSession.select(LiveSession.section, LiveSession.starts_at, LiveSession.ends_at).where(
        (LiveSession.cohort == cohort_id) & (LiveSession.status == LiveSession.Status.scheduled)
        & (LiveSession.starts_at > now)).order_by(LiveSession.starts_at)
    counts = Counter(row["section"] for row in await Membership.select(Membership.section).where(
        current_members(cohort_id) & (Membership.role == Membership.Role.learner)))
    by_section: dict[int, list[SessionChoice]] = defaultdict(list)
    for s in sessions:
        by_section[s["section"]].append(SessionChoice(s["starts_at"], s["ends_at"],
                                                      minutes_outside(person, s["starts_at"], s["ends_at"])))
    return tuple(
        SectionChoice(id=row["id"], key=row["key"], label=section_label(row["key"]), learners=counts[row["id"]],
                      current=row["id"] == learner["section"], sessions=tuple(by_section[row["id"]]))
        for row in sections
    )


async def move_learner(cohort_id: int, membership_id: int, section_id: int, *, actor: int, now: datetime) -> str:
    """Move a learner to another section of the same cohort: their pages, readiness and feed follow (the old
    section's sessions stay in their feed as cancelled for a while). Words for the page."""
    check_aware(now)
    async with write_transaction():
        row = await _member_or_error(cohort_id, membership_id)
        if row["role"] != Membership.Role.learner:
            raise UserError(f"{row['name']} is a {row['role']}; only learners belong to a section.")
        target = await Section.select(Section.id, Section.key).where(
            (Section.id == section_id) & (Section.cohort == cohort_id)).first()
        if target is None:
            raise UserError("Choose one of this cohort's sections.")
        if target["id"] == row["section"]:
            raise UserError(f"{row['name']} is in {section_label(target['key'])} already.")
        await Membership.update({Membership.section: target["id"], Membership.moved_from: row["section"],
                                 Membership.moved_at: now}).where(Membership.id == membership_id)
        words = (f"moved {row['name']} from {section_label(row['section_key'] or '')} "
                 f"to {section_label(target['key'])}")
        await roster_changes.record("moved", actor=actor, person=row["person_id"], cohort=cohort_id,
                                    details=words, now=now)
    return words[0].upper() + words[1:]


# ------------------------------------------------------------------------------------------------ transfer


@dataclass(frozen=True)
class TransferTarget:
    cohort_id: int
    cohort_name: str
    start_date: object
    section_id: int | None
    label: str  # "Support APAC (starts 2027-04-05), section a"

    @property
    def value(self) -> str:
        return f"{self.cohort_id}:{self.section_id or ''}"


async def transfer_targets(cohort_id: int) -> list[TransferTarget]:
    """Other cohorts of the same program, each section of theirs a choice (a draft cohort: no section yet)."""
    cohort = await Cohort.select(Cohort.program).where(Cohort.id == cohort_id).first()
    if cohort is None:
        return []
    others = await Cohort.select(Cohort.id, Cohort.name, Cohort.start_date).where(
        (Cohort.program == cohort["program"]) & (Cohort.id != cohort_id)).order_by(Cohort.start_date)
    sections = await Section.select(Section.id, Section.key, Section.cohort).where(
        Section.cohort.is_in([c["id"] for c in others] or [0])).order_by(Section.key)
    targets = []
    for other in others:
        mine = [s for s in sections if s["cohort"] == other["id"]]
        head = f"{other['name']} (starts {other['start_date'].isoformat()})"
        if not mine:
            targets.append(TransferTarget(other["id"], other["name"], other["start_date"], None, head))
        for s in mine:
            targets.append(TransferTarget(other["id"], other["name"], other["start_date"], s["id"],
                                          f"{head}, {section_label(s['key'])}"))
    return targets


def parse_target(value: str) -> tuple[int, int | None] | None:
    """'12:34' or '12:' -> (cohort id, section id or None); None when unreadable."""
    cohort, _, section = (value or "").partition(":")
    if not cohort.isascii() or not cohort.isdigit() or (section and not (section.isascii() and section.isdigit())):
        return None
    return int(cohort), int(section) if section else None


async def transfer_member(cohort_id: int, membership_id: int, target_cohort_id: int, target_section_id: int | None,
                          *, actor: int, now: datetime) -> str:
    """Move a member to another cohort of the same program: they leave this one (history kept) and join the
    other; modules already done carry over (same unit, see `_carry_over`), the rest fall due on the new
    cohort's dates. Words for the page."""
    check_aware(now)
    async with write_transaction():
        row = await _member_or_error(cohort_id, membership_id)
        source = await Cohort.select(Cohort.program, Cohort.name).where(Cohort.id == cohort_id).first()
        target = await Cohort.select(Cohort.id, Cohort.program, Cohort.name).where(
            Cohort.id == target_cohort_id).first()
        if target is None or target["program"] != source["program"] or target["id"] == cohort_id:
            raise UserError("Choose another cohort of the same program.")
        sections = {s["id"]: s["key"] for s in await Section.select(Section.id, Section.key).where(
            Section.cohort == target["id"])}
        if target_section_id is not None and target_section_id not in sections:
            raise UserError(f"Choose one of {target['name']}'s sections.")
        if row["role"] != Membership.Role.learner:
            target_section_id = None
        elif target_section_id is None and sections:
            raise UserError(f"{target['name']} is planned in sections: choose the section {row['name']} joins.")
        existing = await Membership.select(Membership.id, Membership.left_at).where(
            (Membership.cohort == target["id"]) & (Membership.person == row["person_id"])).first()
        if existing is not None and existing["left_at"] is None:
            raise UserError(f"{row['name']} is in {target['name']} already.")

        await Membership.update({Membership.left_at: now, Membership.left_by: actor,
                                 Membership.left_reason: f"transferred to {target['name']}"[:200]}).where(
            Membership.id == membership_id)
        joined = {Membership.role: row["role"], Membership.manager: row["manager"],
                  Membership.section: target_section_id, Membership.left_at: None, Membership.left_by: None,
                  Membership.left_reason: "", Membership.moved_from: None, Membership.moved_at: None}
        if existing is not None:
            await Membership.update(joined).where(Membership.id == existing["id"])
        else:
            await Membership.insert(Membership(cohort=target["id"], person=row["person_id"], role=row["role"],
                                               manager=row["manager"], section=target_section_id))
        carried = await _carry_over(row["person_id"], cohort_id, target["id"])
        where = target["name"] + (f", {section_label(sections[target_section_id])}" if target_section_id else "")
        words = f"transferred {row['name']} from {source['name']} to {where}; {carried} modules done carried over"
        for cohort in (cohort_id, target["id"]):
            await roster_changes.record("transferred", actor=actor, person=row["person_id"], cohort=cohort,
                                        details=words, now=now)
    return words[0].upper() + words[1:]


async def _carry_over(person_id: int, from_cohort: int, to_cohort: int) -> int:
    """Completions of the old cohort's modules count in the new one: a new module is done when the learner
    finished the old module with the same key, or every old module of the same unit (a plan may cut a unit
    into modules differently). The completion keeps its original instant. The number of modules carried."""
    old = await AsyncModule.select(AsyncModule.id, AsyncModule.key, AsyncModule.unit).where(
        AsyncModule.cohort == from_cohort)
    if not old:
        return 0
    done = {row["module"]: row["completed_at"] for row in await ModuleCompletion.select(
        ModuleCompletion.module, ModuleCompletion.completed_at).where(
        (ModuleCompletion.person == person_id) & ModuleCompletion.module.is_in([m["id"] for m in old]))}
    if not done:
        return 0
    done_keys = {m["key"]: done[m["id"]] for m in old if m["id"] in done}
    by_unit: dict[int, list[dict]] = defaultdict(list)
    for m in old:
        by_unit[m["unit"]].append(m)
    units_done = {unit: max(done[m["id"]] for m in modules)
                  for unit, modules in by_unit.items() if all(m["id"] in done for m in modules)}
    new = await AsyncModule.select(AsyncModule.id, AsyncModule.key, AsyncModule.unit).where(
        AsyncModule.cohort == to_cohort)
    carried = 0
    for m in new:
        when = done_keys.get(m["key"]) or units_done.get(m["unit"])
        if when is None:
            continue
        await ModuleCompletion.insert(ModuleCompletion(module=m["id"], person=person_id, completed_at=when)
                                      ).on_conflict(target=(ModuleCompletion.module, ModuleCompletion.person),
                                                    action="DO NOTHING")
        carried += 1
    return carried
