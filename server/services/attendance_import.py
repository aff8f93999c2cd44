"""Attendance from a meeting report: match the report's people to the session's learners, propose a status
for each, let the facilitator review and override, then save in one transaction.

Matching: by email first; then by name (any name a person appeared under, ignoring case and accents), which
always needs the facilitator's confirmation: one learner of that name is offered first, several make the row
ambiguous, and the review cannot be saved until each such row names a learner or is skipped. Learners of the
section missing from the report are listed too (proposed absent, unless already excused).

Status: "present" needs at least the program's share of the session (default 50%) inside the session's time,
overlaps counted once; "late" when that is met but the first join is after the late threshold; else "absent".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.tables import Attendance, AttendanceEvent, LiveSession
from server.db import write_transaction
from server.errors import UserError
from server.services.attendance import ATTENDANCE_CHOICES, write_marks
from server.services.clock import check_aware
from server.services.meeting_reports import Participant, Report, normalise_name
from server.services.schedule import section_learners

UNCHANGED = ""  # the status choice that leaves a learner's mark as it is
SKIP = "skip"  # the learner choice for a report row that is nobody of this session


@dataclass(frozen=True)
class Rules:
    starts_at: datetime
    ends_at: datetime
    late_after: datetime
    present_share_percent: int


@dataclass(frozen=True)
class ReviewRow:
    index: int
    names: tuple[str, ...]
    email: str
    minutes: float
    share_percent: int
    first_join: datetime
    match: str  # email, name, ambiguous, none
    learner_id: int | None  # preselected (email matches only)
    candidates: tuple[tuple[int, str], ...]  # learners offered first (name matches)
    current: str | None  # the matched learner's mark now
    proposed: str  # a status, or UNCHANGED

    @property
    def label(self) -> str:
        return self.names[-1] if self.names else self.email


@dataclass(frozen=True)
class MissingRow:
    learner_id: int
    name: str
    email: str
    current: str | None
    proposed: str


@dataclass(frozen=True)
class Review:
    kind: str
    rules: Rules
    rows: tuple[ReviewRow, ...]
    missing: tuple[MissingRow, ...]  # learners of the section with no row in the report
    learners: tuple[tuple[int, str], ...]  # every learner of the section (id, name), for the choosers

    @property
    def needs_confirmation(self) -> int:
        return sum(1 for row in self.rows if row.match in ("name", "ambiguous"))


async def rules_of(session_id: int) -> Rules | None:
    row = await LiveSession.select(
        LiveSession.starts_at, LiveSession.ends_at,
        LiveSession.cohort.program.late_after_minutes.as_alias("late"),
        LiveSession.cohort.program.present_share_percent.as_alias("share"),
    ).where(LiveSession.id == session_id).first()
    if row is None:
        return None
    return Rules(row["starts_at"], row["ends_at"], row["starts_at"] + timedelta(minutes=row["late"]),
                 row["share"])


def proposed_status(participant: Participant, rules: Rules) -> tuple[str, float, int]:
    """(status, minutes inside the session, share in percent) by the rules above."""
    minutes = participant.minutes_in(rules.starts_at, rules.ends_at)
    length = max((rules.ends_at - rules.starts_at).total_seconds() / 60, 1)
    share = min(100, round(100 * minutes / length))
    if 100 * minutes < rules.present_share_percent * length:
        return Attendance.Status.absent.value, minutes, share
    if participant.first_join > rules.late_after:
        return Attendance.Status.late.value, minutes, share
    return Attendance.Status.present.value, minutes, share


async def review_report(session_id: int, report: Report) -> Review:
    """The review table for one report (nothing written). Raises UserError when no one of the report was in
    the meeting during the session (a wrong zone or date order, or another session's report)."""
    rules = await rules_of(session_id)
    if rules is None:
        raise UserError("There is no such session.")
    learners = await section_learners(session_id)
    marks = {row["person"]: row["status"] for row in await Attendance.select(
        Attendance.person, Attendance.status).where(Attendance.session == session_id)}
    by_email = {p["email"].lower(): p for p in learners}
    by_name: dict[str, list[dict]] = {}
    for p in learners:
        by_name.setdefault(normalise_name(p["name"]), []).append(p)
    if not any(p.minutes_in(rules.starts_at, rules.ends_at) > 0 for p in report.participants):
        first = min(p.first_join for p in report.participants)
        raise UserError(f"No one in the report was in the meeting during this session (the report starts "
                        f"{first.strftime('%Y-%m-%d %H:%M %Z')}): check the time zone and the date order.")
    rows, seen = [], set()
    for index, participant in enumerate(report.participants):
        status, minutes, share = proposed_status(participant, rules)
        learner, match, candidates = None, "none", ()
        if participant.email and participant.email in by_email:
            learner, match = by_email[participant.email], "email"
        else:
            found = {p["id"]: p for n in participant.names for p in by_name.get(normalise_name(n), [])}
            if len(found) == 1:
                match = "name"
            elif len(found) > 1:
                match = "ambiguous"
            candidates = tuple((p["id"], p["name"]) for p in found.values())
        current = marks.get(learner["id"]) if learner else None
        if learner:
            seen.add(learner["id"])
        elif len(candidates) == 1:
            current = marks.get(candidates[0][0])
            seen.add(candidates[0][0])
        else:
            seen.update(c[0] for c in candidates)
        keep = current == Attendance.Status.excused.value
        rows.append(ReviewRow(
            index=index, names=tuple(participant.names), email=participant.email, minutes=round(minutes, 1),
            share_percent=share, first_join=participant.first_join, match=match,
            learner_id=learner["id"] if learner else None, candidates=candidates, current=current,
            proposed=UNCHANGED if keep else status,
        ))
    missing = tuple(
        MissingRow(p["id"], p["name"], p["email"], marks.get(p["id"]),
                   UNCHANGED if marks.get(p["id"]) == Attendance.Status.excused.value else Attendance.Status.absent.value)
        for p in learners if p["id"] not in seen
    )
    return Review(kind=report.kind, rules=rules, rows=tuple(rows), missing=missing,
                  learners=tuple((p["id"], p["name"]) for p in learners))


@dataclass(frozen=True)
class Decision:
    """What the facilitator chose for one report row: a learner id as text, "" (not chosen yet) or SKIP."""

    row: ReviewRow
    learner: str
    status: str


async def apply_review(session_id: int, review: Review, decisions: list[Decision], missing: dict[int, str], *,
                       actor: int, now: datetime) -> int:
    """Save the reviewed statuses in one transaction; returns how many marks changed. Every row must name a
    learner of the section or be skipped, no learner twice, statuses from the list; otherwise UserError (the
    first problem, one line) and nothing is saved."""
    check_aware(now)
    section = {p_id for p_id, _ in review.learners}
    choices = (*ATTENDANCE_CHOICES, UNCHANGED)
    marks: dict[int, str] = {}
    notes: dict[int, str] = {}
    owner: dict[int, str] = {}
    for d in decisions:
        label = d.row.label
        if d.learner == "":
            raise UserError(f"Row {d.row.index + 1} ({label}): choose which learner this is, or Skip.")
        if d.learner == SKIP:
            continue
        if not d.learner.isdigit() or int(d.learner) not in section:
            raise UserError(f"Row {d.row.index + 1} ({label}): that person is not a learner of this session.")
        if d.status not in choices:
            raise UserError(f"Row {d.row.index + 1} ({label}): choose one of {', '.join(ATTENDANCE_CHOICES)}.")
        learner = int(d.learner)
        if learner in owner:
            raise UserError(f"Row {d.row.index + 1} ({label}) and {owner[learner]} are the same learner: "
                            "skip one of them.")
        owner[learner] = f"row {d.row.index + 1} ({label})"
        if d.status != UNCHANGED:
            marks[learner] = d.status
            notes[learner] = (f"{review.kind} report: {d.row.minutes:g} min ({d.row.share_percent}%), "
                              f"first join {d.row.first_join.strftime('%H:%M %Z')}")
    for learner, status in missing.items():
        if learner not in section or status not in choices:
            raise UserError("A learner missing from the report has an unknown status.")
        if learner in owner or status == UNCHANGED:
            continue
        marks[learner] = status
        notes[learner] = f"not in the {review.kind} report"
    async with write_transaction():
        changed = await write_marks(session_id, marks, source=AttendanceEvent.Source.meeting_report.value,
                                    actor=actor, now=now, notes=notes)
    return len(changed)
