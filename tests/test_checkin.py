"""Self check-in: inside and outside the window, present and late, a wrong or rotated-away code, a learner of
another section, the attempt limit, and the facilitator's box (code, QR code, check-ins as they arrive)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from attendance_helpers import SECRET, build_attendance_world
from readiness_helpers import NOW
from web_helpers import PASSWORD, post_form, run, signed_in_client

from models.tables import Attendance, AttendanceEvent, CheckinThrottle, LiveSession, Program
from server.errors import UserError
from server.passwords import hash_password
from server.services import checkin

START = NOW + timedelta(days=2)  # Alpha's session `next`: 2027-03-12 12:00 UTC


@pytest.fixture
def world(db):
    world, _extra = run(build_attendance_world(hash_password(PASSWORD)))
    return world


def marks(session_id: int) -> dict[int, str]:
    return {r["person"]: r["status"] for r in run(Attendance.select().where(Attendance.session == session_id))}


def code_at(session_id: int, at) -> str:
    return checkin.current_code(SECRET, session_id, at)[0]


def check_in(person: int, code: str, at, session: int | None = None):
    return run(checkin.check_in(person, code, session_id=session, secret=SECRET, now=at))


def refused(person: int, code: str, at, session: int | None = None) -> str:
    with pytest.raises(UserError) as error:
        check_in(person, code, at, session)
    return str(error.value)


def test_codes_differ_per_session_and_step_and_are_six_digits():
    codes = {checkin.code_for(SECRET, s, step) for s in (1, 2, 3) for step in range(100, 110)}
    assert len(codes) == 30 and all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert checkin.code_for(SECRET, 1, 100) != checkin.code_for("another-secret-key-of-32-characters!!", 1, 100)


def test_check_in_inside_the_window_is_present_then_late_after_the_threshold(world):
    at = START - timedelta(minutes=3)
    result = check_in(world.lea, code_at(world.next, at), at)
    assert (result.status, result.already, result.session_id) == ("present", False, world.next)
    late = START + timedelta(minutes=7)  # the default threshold is 5 minutes after the start
    assert check_in(world.leo, code_at(world.next, late), late, world.next).status == "late"
    assert marks(world.next) == {world.lea: "present", world.leo: "late"}
    events = run(AttendanceEvent.select().where(AttendanceEvent.session == world.next).order_by(AttendanceEvent.id))
    assert [(e["person"], e["from_state"], e["to_state"], e["source"], e["actor"]) for e in events] == [
        (world.lea, "", "present", "checkin", world.lea), (world.leo, "", "late", "checkin", world.leo)]


def test_a_second_check_in_or_an_existing_mark_changes_nothing(world):
    at = START
    check_in(world.lea, code_at(world.next, at), at)
    again = check_in(world.lea, code_at(world.next, at + timedelta(minutes=8)), at + timedelta(minutes=8))
    assert (again.status, again.already) == ("present", True)
    run(Attendance(session=world.next, person=world.leo, status="excused", marked_by=world.fay, marked_at=at).save())
    assert check_in(world.leo, code_at(world.next, at), at).status == "excused"
    assert marks(world.next) == {world.lea: "present", world.leo: "excused"}
    assert run(AttendanceEvent.count()) == 1


@pytest.mark.parametrize("offset, words", [(timedelta(minutes=-11), "opens at Fri 12 Mar, 11:50"),
                                           (timedelta(minutes=16), "closed at Fri 12 Mar, 12:15")])
def test_outside_the_window_is_refused_with_the_time(world, offset, words):
    at = START + offset
    assert words in refused(world.lea, code_at(world.next, at), at, world.next)
    assert "No session of yours is open" in refused(world.lea, code_at(world.next, at), at)
    assert marks(world.next) == {}


def test_the_window_follows_the_program_settings(world):
    run(Program.update({Program.checkin_opens_minutes: 30, Program.late_after_minutes: 0}).where(Program.id > 0))
    at = START - timedelta(minutes=25)
    assert check_in(world.lea, code_at(world.next, at), at).status == "present"
    assert check_in(world.leo, code_at(world.next, START + timedelta(minutes=1)), START + timedelta(minutes=1)
                    ).status == "late"


def test_a_wrong_or_rotated_away_code_is_refused(world):
    at = START + timedelta(minutes=1)
    current = code_at(world.next, at)
    wrong = str((int(current) + 1) % 10**6).zfill(6)
    assert "not the current code" in refused(world.lea, wrong, at)
    two_steps_ago = code_at(world.next, at - timedelta(seconds=2 * checkin.STEP_SECONDS))
    assert two_steps_ago != current
    assert "not the current code" in refused(world.lea, two_steps_ago, at)
    # another session's code is not this one's
    assert "not the current code" in refused(world.lea, code_at(world.past, at), at)
    assert "6 digits" in refused(world.lea, "12ab", at)
    assert marks(world.next) == {}
    # the code that rotated a moment ago still works (a learner was typing it)
    previous = code_at(world.next, at - timedelta(seconds=checkin.STEP_SECONDS))
    assert check_in(world.lea, previous, at).status == "present"


def test_a_learner_of_another_section_is_refused(world):
    at = START
    assert "not one of yours" in refused(world.ben, code_at(world.next, at), at, world.next)
    assert "No session of yours is open" in refused(world.ben, code_at(world.next, at), at)
    assert marks(world.next) == {}


def test_a_cancelled_session_takes_no_check_in(world):
    run(LiveSession.update({LiveSession.status: "cancelled"}).where(LiveSession.id == world.next))
    assert "cancelled" in refused(world.lea, code_at(world.next, START), START, world.next)


def test_the_attempt_limit_holds_even_for_the_right_code(world):
    at = START
    for _ in range(checkin.ATTEMPTS_PER_BUCKET):
        refused(world.lea, "000000" if code_at(world.next, at) != "000000" else "000001", at)
    assert "Too many check-in attempts" in refused(world.lea, code_at(world.next, at), at)
    assert marks(world.next) == {}
    # per learner: Leo is not held back by Lea's attempts; and the count is a row, shared by every worker
    assert check_in(world.leo, code_at(world.next, at), at).status == "present"
    rows = run(CheckinThrottle.select().where(CheckinThrottle.person == world.lea))
    assert [r["attempts"] for r in rows] == [checkin.ATTEMPTS_PER_BUCKET + 1]
    # a later bucket starts again
    later = at + timedelta(seconds=checkin.BUCKET_SECONDS)
    assert check_in(world.lea, code_at(world.next, later), later).status == "late"


def test_over_http_the_facilitator_sees_the_code_and_the_check_in_arrives(world):
    at = START - timedelta(minutes=2)
    with signed_in_client("fay@example.com", now=at) as fay:
        page = fay.get(f"/facilitator/sessions/{world.next}")
        assert page.status_code == 200
        shown = re.search(r'id="checkin-code">(\d{3}) (\d{3})<', page.text)
        code = shown.group(1) + shown.group(2)
        assert code == code_at(world.next, at)
        assert "<svg" in page.text and 'hx-trigger="every 3s"' in page.text
        assert "0 of 6 learners checked in" in page.text
    # one app at a time (each runs its own PostgreSQL pool); the clock is pinned, so the code is the same
    with signed_in_client("lea@example.com", now=at) as lea:
        assert 'id="checkin-open"' in lea.get("/learner").text
        form = lea.get(f"/learner/checkin?session={world.next}&code={code}")
        assert f'value="{code}"' in form.text and 'hx-trigger="submit, load"' in form.text
        done = post_form(lea, "/learner/checkin", {"session": str(world.next), "code": code}, htmx=True)
        assert done.status_code == 200 and "<html" not in done.text
        assert "Checked in: you are marked <strong>present</strong>" in done.text
        bad = post_form(lea, "/learner/checkin", {"code": "999999" if code != "999999" else "111111"})
        assert bad.status_code == 400 and "not the current code" in bad.text
    with signed_in_client("fay@example.com", now=at) as fay:
        polled = fay.get(f"/facilitator/sessions/{world.next}/checkin", headers={"HX-Request": "true"})
        assert polled.status_code == 200 and polled.text.lstrip().startswith('<section id="checkin-panel"')
        assert "Lea Learner: present" in polled.text and "1 of 6 learners checked in" in polled.text


def test_the_box_before_and_after_the_window(world):
    with signed_in_client("fay@example.com", now=START - timedelta(hours=3)) as fay:
        page = fay.get(f"/facilitator/sessions/{world.next}").text
        assert "Check-in opens at" in page and 'id="checkin-code"' not in page
    with signed_in_client("fay@example.com", now=START + timedelta(hours=3)) as fay:
        page = fay.get(f"/facilitator/sessions/{world.next}").text
        assert "Check-in closed at" in page and "hx-trigger" not in page.split('id="checkin-panel"')[1][:200]
