"""Meeting-report import: the Zoom and Teams samples (examples/attendance/) give the expected statuses, an
ambiguous or name-only match needs the facilitator's choice, nothing is saved before the review or from a bad
file, and the saved statuses come with their events."""

from __future__ import annotations

import base64
import html
from datetime import timedelta

import pytest
from attendance_helpers import EXAMPLES, build_attendance_world
from readiness_helpers import NOW
from web_helpers import PASSWORD, post_form, run, signed_in_client

from models.tables import Attendance, AttendanceEvent
from server.errors import UserError
from server.passwords import hash_password
from server.services import attendance_import, meeting_reports

AFTER = NOW + timedelta(days=2, hours=2)  # the session `next` is over


@pytest.fixture
def world(db):
    return run(build_attendance_world(hash_password(PASSWORD)))


def marks(session_id: int) -> dict[int, str]:
    return {r["person"]: r["status"] for r in run(Attendance.select().where(Attendance.session == session_id))}


def review_of(session_id: int, name: str, zone: str = "Europe/London"):
    report = meeting_reports.parse_report((EXAMPLES / name).read_bytes(), filename=name, timezone=zone)
    return run(attendance_import.review_report(session_id, report))


def by_label(review) -> dict[str, attendance_import.ReviewRow]:
    return {row.label + (f" <{row.email}>" if row.email else ""): row for row in review.rows}


def test_zoom_sample(world):
    w, extra = world
    review = review_of(w.next, "zoom-participants.csv")
    assert review.kind == "Zoom"
    rows = by_label(review)
    lea = rows["Lea Learner <lea@example.com>"]
    assert (lea.match, lea.learner_id, lea.proposed) == ("email", w.lea, "present")
    assert lea.minutes == pytest.approx(58.2, abs=0.1)  # two intervals, clipped to 12:00-13:00
    leo = rows["Leo Learner"]  # "Leo (Leo Learner)", no email: matched by the original name, to confirm
    assert (leo.match, leo.learner_id, leo.candidates, leo.proposed) == ("name", None, ((w.leo, "Leo Learner"),),
                                                                        "late")
    ana = rows["Ana Souza <ana.souza@example.com>"]
    assert (ana.proposed, ana.share_percent) == ("absent", 30)
    alex = rows["Alex Kim"]
    assert alex.match == "ambiguous" and {c[0] for c in alex.candidates} == {extra["alex.kim@example.com"],
                                                                            extra["alex.kim2@example.com"]}
    assert rows["Guest 4821"].match == "none" and rows["Fay Facilitator <fay@example.com>"].match == "none"
    assert [(m.learner_id, m.proposed) for m in review.missing] == [(extra["sam.rivera@example.com"], "absent")]
    assert marks(w.next) == {}  # a review saves nothing


@pytest.mark.parametrize("name", ["teams-attendance-utf16.csv", "teams-attendance-utf8.csv"])
def test_teams_samples(world, name):
    w, extra = world
    review = review_of(w.next, name)
    assert review.kind == "Teams"
    proposed = {row.learner_id: row.proposed for row in review.rows if row.learner_id}
    assert proposed == {w.lea: "present", w.leo: "late", extra["ana.souza@example.com"]: "absent",
                        extra["sam.rivera@example.com"]: "present", extra["alex.kim2@example.com"]: "present"}
    assert [m.learner_id for m in review.missing] == [extra["alex.kim@example.com"]]


def test_the_zone_is_the_one_chosen(world):
    w, _ = world
    # read as New York time, the meeting would be 16:58 UTC onwards: after the session, so nothing overlaps
    with pytest.raises(UserError, match="check the time zone and the date order"):
        review_of(w.next, "zoom-participants.csv", zone="America/New_York")


@pytest.mark.parametrize("data, words", [
    (b"", "the file is empty"),
    (b"just,some,columns\n1,2,3\n", "not a Zoom or Teams participants report"),
    (b"Name,Email,Join Time,Leave Time\nLea,lea@example.com,yesterday,03/12/2027 01:00:00 PM\n",
     "line 2: 'yesterday' is not a date and time"),
    (b"Name,Email,Join Time,Leave Time\nLea,lea@example.com,03/12/2027 01:00:00 PM,03/12/2027 12:00:00 PM\n",
     "line 2: Lea leaves before joining"),
    (b"\xff\xfeN\x00\x00\xd8", "not UTF-8 or UTF-16"),
])
def test_a_bad_file_is_one_message_and_nothing_is_saved(world, data, words):
    w, _ = world
    with signed_in_client("fay@example.com", now=AFTER) as client:
        response = post_form(client, f"/facilitator/sessions/{w.next}/import", {"timezone": "Europe/London"},
                             files={"report": ("report.csv", data, "text/csv")})
    assert response.status_code == 400
    assert "Nothing was saved." in response.text and words in html.unescape(response.text)
    assert marks(w.next) == {} and run(AttendanceEvent.count()) == 0


def _confirm_fields(page: str) -> dict[str, str]:
    """The review form's fields as the browser would send them (selected options, hidden fields)."""
    import re

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        fields[name] = chosen.group(1) if chosen else re.search(r'<option value="([^"]*)"', body).group(1)
    fields.pop("_csrf_token", None)
    return fields


def test_review_then_save_over_http(world):
    w, extra = world
    run(Attendance(session=w.next, person=extra["sam.rivera@example.com"], status="excused", marked_by=w.fay,
                   marked_at=AFTER).save())
    sample = (EXAMPLES / "zoom-participants.csv").read_bytes()
    # read before the app runs: on PostgreSQL a test's own service calls cannot share the app's pool
    rows = {row.label: row for row in review_of(w.next, "zoom-participants.csv").rows}
    with signed_in_client("fay@example.com", now=AFTER) as client:
        page = post_form(client, f"/facilitator/sessions/{w.next}/import",
                         {"timezone": "Europe/London", "date_order": "month-first"},
                         files={"report": ("zoom-participants.csv", sample, "text/csv")})
        assert page.status_code == 200, page.text[:500]
        assert "2 rows matched by name only" in page.text and "ambiguous name: choose" in page.text
        assert marks(w.next) == {extra["sam.rivera@example.com"]: "excused"}
        fields = _confirm_fields(page.text)
        assert base64.b64decode(fields["report"]) == sample
        # as proposed: the name-only rows are not chosen yet, so nothing is saved
        first = post_form(client, f"/facilitator/sessions/{w.next}/import/confirm", fields)
        assert first.status_code == 400 and "choose which learner this is, or Skip" in first.text
        assert marks(w.next) == {extra["sam.rivera@example.com"]: "excused"}
        # confirm Leo, pick the first Alex Kim, override Ana to late
        fields[f"learner-{rows['Leo Learner'].index}"] = str(w.leo)
        fields[f"learner-{rows['Alex Kim'].index}"] = str(extra["alex.kim@example.com"])
        fields[f"status-{rows['Ana Souza'].index}"] = "late"
        twice = {**fields, f"learner-{rows['Guest 4821'].index}": str(w.leo)}
        clash = post_form(client, f"/facilitator/sessions/{w.next}/import/confirm", twice)
        assert clash.status_code == 400 and "are the same learner" in clash.text
        saved = post_form(client, f"/facilitator/sessions/{w.next}/import/confirm", fields)
        assert saved.status_code == 303 and saved.headers["location"].endswith("?imported=4")
        assert "4 marks changed" in client.get(saved.headers["location"]).text
    assert marks(w.next) == {w.lea: "present", w.leo: "late", extra["ana.souza@example.com"]: "late",
                             extra["alex.kim@example.com"]: "present",
                             extra["sam.rivera@example.com"]: "excused"}  # excused stays, though missing
    events = run(AttendanceEvent.select().where(AttendanceEvent.source == "import"))
    assert len(events) == 4 and all(e["actor"] == w.fay and e["from_state"] == "" for e in events)
    assert any("Zoom report: 58.2 min (97%), first join 11:58 GMT" == e["note"] for e in events)


def test_only_a_facilitator_of_the_session_imports(world):
    w, _ = world
    sample = (EXAMPLES / "zoom-participants.csv").read_bytes()
    with signed_in_client("finn@example.com", now=AFTER) as client:
        response = post_form(client, f"/facilitator/sessions/{w.next}/import", {},
                             files={"report": ("zoom.csv", sample, "text/csv")})
    assert response.status_code == 404
