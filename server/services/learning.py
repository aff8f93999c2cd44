"""A learner's own schedule and modules: what they see, and marking a module done or undoing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.tables import AttendanceEvent, Membership, ModuleCompletion
from server.db import write_transaction
from server.services.attendance_events import DONE, Change, lock_for_change, record_change
from server.services.clock import check_aware
from server.services.schedule import (
    MY_SECTIONS,
    ModuleRow,
    Progress,
    SessionRow,
    learner_memberships,
    learner_module_rows,
    module_rows,
    prework_by_session,
    progress_of,
    session_rows,
)


@dataclass(frozen=True)
class LearnerSchedule:
    sessions: tuple[SessionRow, ...]  # all sessions of my sections, by start
    next_session: SessionRow | None  # the first scheduled session that has not ended yet
    modules: tuple[ModuleRow, ...]  # by due, then title
    progress: Progress



async def learner_schedule(person_id: int, *, now: datetime) -> LearnerSchedule:
    """The learner's sessions (of their own sections), modules (of their own cohorts) and progress."""
    check_aware(now)
    # the person's cohorts and sections as subqueries: no query of the memberships first
    modules = await learner_module_rows(person_id, now=now)
    by_id = {module.id: module for module in modules}
    sessions = await session_rows(f"s.section IN ({MY_SECTIONS})", person_id, Membership.Role.learner.value)
    prework = await prework_by_session([s.id for s in sessions])
    sessions = tuple(
        _with_prework(session, [by_id[m] for m in prework.get(session.id, ()) if m in by_id]) for session in sessions
    )
    upcoming = [s for s in sessions if not s.cancelled and s.ends_at > now]
    return LearnerSchedule(
        sessions=sessions,
        next_session=upcoming[0] if upcoming else None,
        modules=modules,
        progress=progress_of(modules),
    )


async def learner_module(person_id: int, module_id: int, *, now: datetime) -> ModuleRow | None:
    """One module as the learner sees it, or None when it is not in one of their cohorts."""
    cohort_ids = sorted({m["cohort"] for m in await learner_memberships(person_id)})
    rows = await module_rows(cohort_ids, person_id, now=now, module_id=module_id)
    return rows[0] if rows else None


async def learner_progress(person_id: int, *, now: datetime) -> Progress:
    cohort_ids = sorted({m["cohort"] for m in await learner_memberships(person_id)})
    return progress_of(await module_rows(cohort_ids, person_id, now=now))


async def set_module_done(person_id: int, module_id: int, done: bool, *, now: datetime) -> ModuleRow | None:
    """Mark a module done (idempotent) or undo it. None, and nothing written, when it is not the learner's."""
    check_aware(now)
    async with write_transaction():
        before = await learner_module(person_id, module_id, now=now)
        if before is None:
            return None
        await lock_for_change(module=module_id)
        was_done = bool(await ModuleCompletion.count().where(
            (ModuleCompletion.module == module_id) & (ModuleCompletion.person == person_id)))
        if done:
            await ModuleCompletion.insert(
                ModuleCompletion(module=module_id, person=person_id, completed_at=now)
            ).on_conflict(target=(ModuleCompletion.module, ModuleCompletion.person), action="DO NOTHING")
        else:
            await ModuleCompletion.delete().where(
                (ModuleCompletion.module == module_id) & (ModuleCompletion.person == person_id)
            )
        await record_change(
            [Change(person=person_id, module=module_id, from_state=DONE if was_done else "",
                    to_state=DONE if done else "")],
            source=AttendanceEvent.Source.manual.value, actor=person_id, now=now,
        )
        return await learner_module(person_id, module_id, now=now)



def _with_prework(session: SessionRow, prework: list[ModuleRow]) -> SessionRow:
    return SessionRow(**{**session.__dict__, "prework": tuple(prework)})

