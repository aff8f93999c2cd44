"""Feedback on live sessions: a learner's 1-5 rating and optional comment (one per learner and session, changed
by giving it again), the facilitator's view of one session, and the designer's averages per unit, per
facilitator and per cohort with response counts.

The small-group rule, in one place (`MIN_GROUP`): an average, a distribution or a comment is shown only for a
group with at least 3 different learners in it, so no one's rating can be read off a result. Counts are shown
always. A learner may rate a session of their own section once it has started, unless marked absent from it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from models.tables import Attendance, LiveSession, SessionFeedback, SessionUnit
from server.db import fetch, write_transaction
from server.errors import UserError
from server.services.clock import check_aware
from server.services.schedule import section_learners

RATINGS = (1, 2, 3, 4, 5)
MIN_GROUP = 3
COMMENT_LENGTH = 2000


@dataclass(frozen=True)
class MyFeedback:
    session_id: int
    rating: int
    comment: str


@dataclass(frozen=True)
class SessionResults:
    responses: int
    shown: bool  # at least MIN_GROUP learners answered
    average: float | None  # None unless shown
    distribution: dict[int, int] = field(default_factory=dict)  # rating -> count; empty unless shown
    comments: tuple[str, ...] = ()  # without names, oldest first; empty unless shown

    @property
    def still_needed(self) -> int:
        return max(0, MIN_GROUP - self.responses)


@dataclass(frozen=True)
class Group:
    label: str
    detail: str  # e.g. the program of a unit
    responses: int
    learners: int
    average: float | None  # None when fewer than MIN_GROUP learners

    @property
    def shown(self) -> bool:
        return self.average is not None


@dataclass(frozen=True)
class Report:
    units: tuple[Group, ...]
    facilitators: tuple[Group, ...]
    cohorts: tuple[Group, ...]
    responses: int


async def give_feedback(person_id: int, session_id: int, rating: int, comment: str, *, now: datetime) -> MyFeedback | None:
    """Store the learner's rating and comment for the session (replacing an earlier one). None, and nothing
    written, when the session is not one of the learner's; UserError when it cannot be rated (yet)."""
    check_aware(now)
    comment = comment.strip()
    async with write_transaction():
        if person_id not in {p["id"] for p in await section_learners(session_id)}:
            return None
        session = await LiveSession.select(LiveSession.starts_at, LiveSession.status).where(
            LiveSession.id == session_id).first()
        if rating not in RATINGS:
            raise UserError("Rating: choose a whole number from 1 to 5.")
        if len(comment) > COMMENT_LENGTH:
            raise UserError(f"Comment: at most {COMMENT_LENGTH} characters.")
        if session["status"] == LiveSession.Status.cancelled.value:
            raise UserError("This session was cancelled; there is nothing to rate.")
        if session["starts_at"] > now:
            raise UserError("You can rate this session once it has started.")
        if await Attendance.exists().where((Attendance.session == session_id) & (Attendance.person == person_id)
                                           & (Attendance.status == Attendance.Status.absent.value)):
            raise UserError("You were marked absent from this session, so it cannot be rated; its materials are on "
                            "the session page.")
        await SessionFeedback.insert(
            SessionFeedback(session=session_id, person=person_id, rating=rating, comment=comment, created_at=now,
                            updated_at=now)
        ).on_conflict(target=(SessionFeedback.session, SessionFeedback.person), action="DO UPDATE",
                      values=[SessionFeedback.rating, SessionFeedback.comment, SessionFeedback.updated_at])
    return MyFeedback(session_id=session_id, rating=rating, comment=comment)


def can_rate(starts_at: datetime, cancelled: bool, *, now: datetime) -> bool:
    """Whether a session of the learner's is open for feedback (the page offers the form then)."""
    return not cancelled and starts_at <= now


async def session_results(session_id: int) -> SessionResults:
    """The session's feedback without names: counts always, the rest once MIN_GROUP learners answered."""
    rows = await fetch("SELECT rating, comment FROM session_feedback WHERE session = {} ORDER BY created_at, id",
                       session_id)
    if len(rows) < MIN_GROUP:  # one row per learner (unique index), so rows are learners
        return SessionResults(responses=len(rows), shown=False, average=None)
    distribution = {rating: 0 for rating in RATINGS}
    for row in rows:
        distribution[row["rating"]] += 1
    return SessionResults(
        responses=len(rows), shown=True, average=sum(r["rating"] for r in rows) / len(rows),
        distribution=distribution, comments=tuple(r["comment"] for r in rows if r["comment"]),
    )


async def feedback_report() -> Report:
    """Averages per unit (a session's feedback counts for every unit it teaches), per facilitator and per
    cohort, each with its numbers of responses and learners; three queries whatever the amount of feedback."""
    rows = await SessionFeedback.select(
        SessionFeedback.session,
        SessionFeedback.person,
        SessionFeedback.rating,
        SessionFeedback.session.facilitator.as_alias("facilitator"),
        SessionFeedback.session.facilitator.name.as_alias("facilitator_name"),
        SessionFeedback.session.cohort.as_alias("cohort"),
        SessionFeedback.session.cohort.name.as_alias("cohort_name"),
        SessionFeedback.session.cohort.program.name.as_alias("program_name"),
    )
    session_ids = sorted({r["session"] for r in rows})
    units_of: dict[int, set[tuple[int, str, str]]] = defaultdict(set)
    if session_ids:
        for u in await SessionUnit.select(
            SessionUnit.session, SessionUnit.unit, SessionUnit.unit.title.as_alias("title"),
            SessionUnit.unit.program.name.as_alias("program_name"),
        ).where(SessionUnit.session.is_in(session_ids)):
            units_of[u["session"]].add((u["unit"], u["title"], u["program_name"] or ""))

    def groups(keyed: list[tuple[tuple, dict]]) -> tuple[Group, ...]:
        ratings: dict[tuple, list[int]] = defaultdict(list)
        learners: dict[tuple, set[int]] = defaultdict(set)
        for key, row in keyed:
            ratings[key].append(row["rating"])
            learners[key].add(row["person"])
        out = [
            Group(label=key[1], detail=key[2], responses=len(values), learners=len(learners[key]),
                  average=sum(values) / len(values) if len(learners[key]) >= MIN_GROUP else None)
            for key, values in ratings.items()
        ]
        return tuple(sorted(out, key=lambda g: (g.label.casefold(), g.detail.casefold())))

    return Report(
        units=groups([(unit, row) for row in rows for unit in units_of.get(row["session"], ())]),
        facilitators=groups([((row["facilitator"], row["facilitator_name"] or "", ""), row) for row in rows]),
        cohorts=groups([((row["cohort"], row["cohort_name"] or "", row["program_name"] or ""), row) for row in rows]),
        responses=len(rows),
    )


def report_csv(report: Report) -> str:
    """The report as CSV: one row per group; the average is empty where the small-group rule hides it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["group", "name", "program", "responses", "learners", "average"])
    for kind, found in (("unit", report.units), ("facilitator", report.facilitators), ("cohort", report.cohorts)):
        for group in found:
            writer.writerow([kind, _cell(group.label), _cell(group.detail), group.responses, group.learners,
                             f"{group.average:.2f}" if group.average is not None else ""])
    return out.getvalue()


def _cell(text: str) -> str:
    """A name as a CSV cell a spreadsheet shows as text (a leading =, +, - or @ would start a formula)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
