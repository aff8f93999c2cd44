"""The audit trail and automatic absences: every attendance and completion change is one appended event (who,
when, from, to, how); replaying the events gives the current state; the learner's record shows the trail to
designers and the cohort's facilitators, also as CSV; absences after the grace period are written by the
worker's periodic task, once, never for a learner who joined after the session."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from attendance_helpers import SECRET, build_attendance_world
from readiness_helpers import NOW
from web_helpers import PASSWORD, page_text, post_form, run, signed_in_client
from worker_helpers import running_worker, wait_until

from models.tables import Attendance, AttendanceEvent, LiveSession, Membership, ModuleCompletion, Program
from server.passwords import hash_password
from server.services import attendance, attendance_events, checkin, learning

START = NOW + timedelta(days=2)


@pytest.fixture
def world(db):
    return run(build_attendance_world(hash_password(PASSWORD)))


def current_state() -> dict[tuple[str, int, int], str]:
    marks = {("attendance", r["session"], r["person"]): r["status"] for r in run(Attendance.select())}
    done = {("completion", r["module"], r["person"]): "done" for r in run(ModuleCompletion.select())}
    return marks | done


def assert_trail_agrees():
    """The state rebuilt from the events is the state in the tables, and each event starts where the one
    before it (of the same learner and session or module) ended."""
    assert run(attendance_events.replay()) == current_state()
    last: dict[tuple, str] = {}
    for e in run(AttendanceEvent.select().order_by(AttendanceEvent.id)):
        key = (e["kind"], e["session"] or e["module"], e["person"])
        assert e["from_state"] == last.get(key, ""), e
        assert e["from_state"] != e["to_state"], e
        last[key] = e["to_state"]


def test_every_change_is_an_event_and_the_record_shows_them_all(world):
    w, extra = world
    at = START - timedelta(minutes=1)
    with signed_in_client("lea@example.com", now=at) as lea:
        post_form(lea, f"/learner/modules/{w.m_tour}/done")
        post_form(lea, f"/learner/modules/{w.m_tour}/undo")
        post_form(lea, f"/learner/modules/{w.m_tour}/done")
        post_form(lea, f"/learner/modules/{w.m_tour}/done")  # done again: no change, no event
        assert post_form(lea, "/learner/checkin", {"code": checkin.current_code(SECRET, w.next, at)[0]}
                         ).status_code == 200
    with signed_in_client("fay@example.com", now=at + timedelta(minutes=30)) as fay:
        post_form(fay, f"/facilitator/sessions/{w.next}/attendance/{w.lea}", {"status": "late"})
        post_form(fay, f"/facilitator/sessions/{w.next}/attendance/{w.lea}", {"status": "late"})  # same: no event
        post_form(fay, f"/facilitator/sessions/{w.past}/attendance/{w.lea}", {"status": "excused"})
        page = fay.get(f"/facilitator/learners/{w.lea}")
        assert page.status_code == 200
        exported = fay.get(f"/facilitator/learners/{w.lea}/trail.csv")
    assert_trail_agrees()
    events = run(AttendanceEvent.select().where(AttendanceEvent.person == w.lea).order_by(AttendanceEvent.id))
    assert [(e["kind"], e["from_state"], e["to_state"], e["source"], e["actor_name"]) for e in events] == [
        ("completion", "", "done", "manual", "Lea Learner"),
        ("completion", "done", "", "manual", "Lea Learner"),
        ("completion", "", "done", "manual", "Lea Learner"),
        ("attendance", "", "present", "checkin", "Lea Learner"),
        ("attendance", "present", "late", "manual", "Fay Facilitator"),
        ("attendance", "", "excused", "manual", "Fay Facilitator"),
    ]
    for e in events:
        assert f'id="event-{e["id"]}"' in page.text
    assert "self check-in" in page.text and "by hand, Fay Facilitator" in page.text
    assert "present → <strong>late</strong>" in page_text(page) and "module Product tour" in page.text
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["kind"], r["from"], r["to"], r["how"]) for r in rows][3:5] == [
        ("attendance", "not marked", "present", "self check-in"), ("attendance", "present", "late", "by hand")]
    assert rows[0]["at_utc"] == (START - timedelta(minutes=1)).isoformat() and rows[0]["learner"] == "lea@example.com"


def test_the_record_is_for_designers_and_the_cohorts_facilitators(world):
    w, _ = world
    with signed_in_client("dee@example.com", now=NOW) as dee:
        assert dee.get(f"/facilitator/learners/{w.ben}").status_code == 200
        assert dee.get("/facilitator/learners/999999").status_code == 404
    with signed_in_client("fay@example.com", now=NOW) as fay:
        assert fay.get(f"/facilitator/learners/{w.lea}").status_code == 200
        assert fay.get(f"/facilitator/learners/{w.ben}").status_code == 404  # Beta is Finn's
        assert fay.get(f"/facilitator/learners/{w.ben}/trail.csv").status_code == 404
    with signed_in_client("lea@example.com", now=NOW) as lea:
        assert lea.get(f"/facilitator/learners/{w.lea}").status_code == 403


def test_no_service_updates_or_deletes_an_event():
    """The app only appends: no `AttendanceEvent.update`/`.delete` and no raw UPDATE/DELETE of the table."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for path in [*(root / "server").rglob("*.py"), *(root / "models").glob("*.py")]:
        text = path.read_text()
        assert "AttendanceEvent.update" not in text and "AttendanceEvent.delete" not in text, path
        assert "UPDATE \"attendance_event\"" not in text and "DELETE FROM \"attendance_event\"" not in text, path


def _grace(minutes: int) -> None:
    run(Program.update({Program.absent_after_minutes: minutes}).where(Program.id > 0))


def test_automatic_absences_after_the_grace_period(world):
    w, extra = world
    end = START + timedelta(hours=1)
    late_joiner = extra["sam.rivera@example.com"]
    run(Membership.update({Membership.joined_at: START + timedelta(minutes=30)}).where(
        Membership.person == late_joiner))
    run(attendance.mark_attendance(w.next, w.lea, "present", marked_by=w.fay, now=START))
    assert run(attendance.mark_absent_after_grace(now=end + timedelta(days=1))) == 0  # off by default
    _grace(60)

    def marks(session: int) -> dict[int, str]:
        return {r["person"]: r["status"] for r in run(Attendance.select().where(Attendance.session == session))}

    learners_of_alpha = 6
    # 59 minutes after `next` ended: only `past` (two days earlier, within the look-back) is due; Sam joined
    # after it too
    assert run(attendance.mark_absent_after_grace(now=end + timedelta(minutes=59))) == learners_of_alpha - 1
    assert late_joiner not in marks(w.past)
    assert marks(w.next) == {w.lea: "present"}
    written = run(attendance.mark_absent_after_grace(now=end + timedelta(minutes=60)))
    assert written == learners_of_alpha - 2  # all but Lea (marked) and Sam (joined after the start)
    assert marks(w.next)[w.lea] == "present" and late_joiner not in marks(w.next)
    assert {s for p, s in marks(w.next).items() if p != w.lea} == {"absent"}
    assert run(attendance.mark_absent_after_grace(now=end + timedelta(minutes=61))) == 0  # idempotent
    events = run(AttendanceEvent.select().where(AttendanceEvent.source == "automatic"))
    assert len(events) == written + learners_of_alpha - 1 and all(e["actor"] is None for e in events)
    assert_trail_agrees()


def test_cancelled_and_long_past_sessions_are_left_alone(world):
    w, _ = world
    _grace(30)
    run(LiveSession.update({LiveSession.status: "cancelled"}).where(LiveSession.id == w.next))
    assert run(attendance.mark_absent_after_grace(now=START + timedelta(days=30))) == 0


def test_the_worker_marks_absences_as_a_periodic_task(world, tmp_path):
    """A real `cadence worker`: its periodic task runs at start (and every minute) on the real clock."""
    w, _ = world
    _grace(1)
    now = datetime.now(UTC)
    run(LiveSession.update({LiveSession.starts_at: now - timedelta(hours=2),
                            LiveSession.ends_at: now - timedelta(hours=1)}).where(LiveSession.id == w.past))
    run(Membership.update({Membership.joined_at: now - timedelta(days=1)}).where(Membership.id > 0))
    learners = run(Membership.count().where((Membership.cohort == w.alpha) & (Membership.role == "learner")))
    with running_worker(tmp_path / "worker.log", CADENCE_QUEUE_NAME=f"test-{uuid.uuid4().hex[:12]}") as worker:
        wait_until(lambda: run(Attendance.count().where(Attendance.session == w.past)) == learners, 60,
                   "the worker to mark the absences", worker)
    assert {r["status"] for r in run(Attendance.select().where(Attendance.session == w.past))} == {"absent"}
    assert_trail_agrees()


def test_a_concurrent_mark_and_check_in_keep_the_trail_in_order(world):
    """Two writers of one learner's mark: whatever order they land in, each event starts from the last."""
    import asyncio

    w, _ = world
    at = START

    async def both():
        await asyncio.gather(
            attendance.mark_attendance(w.next, w.leo, "excused", marked_by=w.fay, now=at),
            checkin.check_in(w.leo, checkin.current_code(SECRET, w.next, at)[0], session_id=w.next, secret=SECRET,
                             now=at),
            learning.set_module_done(w.leo, w.m_tour, True, now=at),
            learning.set_module_done(w.leo, w.m_tour, False, now=at),
        )

    run(both())
    assert_trail_agrees()

