"""After the live session, over HTTP: materials on a session, feedback and its small-group rule, a cohort's
Q&A board (access, Markdown made safe, moderation), and the program's support contact."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, make_person, post_form, run, signed_in_client

from models.tables import (
    Answer,
    Attendance,
    Membership,
    Program,
    Question,
    Section,
    SessionFeedback,
    SessionMaterial,
)
from planner.errors import InputError
from planner.loading import parse_program
from server.passwords import hash_password
from server.services.materials import materials_for_sessions

HOSTILE = ('<script>alert("x")</script> **bold** [bad](javascript:alert(1)) [data](data:text/html,hi) '
           '<img src=x onerror=alert(1)> [good](https://example.org/notes)')


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def unsafe_markup(html: str) -> list:
    """Elements a browser would run or load: scripts, images, event handlers, non-http(s)/mailto links."""
    parser = _Elements()
    parser.feed(html)
    bad = []
    for tag, attrs in parser.found:
        if tag in ("script", "img", "iframe", "object", "embed"):
            bad.append((tag, attrs))
        if any(name.startswith("on") for name in attrs):
            bad.append((tag, attrs))
        href = (attrs.get("href") or "").strip().lower()
        if href and not href.startswith(("http://", "https://", "mailto:", "/", "#")):
            bad.append((tag, attrs))
    ours = {"/static/htmx.min.js", "/static/zone_picker.js"}  # the app's own scripts in base.html
    return [b for b in bad if not (b[0] == "script" and b[1].get("src") in ours)]


@pytest.fixture
def world(db):
    return run(build_world(hash_password(PASSWORD)))


def add_learners(world, n: int) -> list[str]:
    """n more learners in Alpha's section; their emails."""
    section = run(Section.select(Section.id).where(Section.cohort == world.alpha).first())["id"]
    emails = []
    for i in range(n):
        person = make_person(f"extra{i}@example.com", "learner", name=f"Extra {i}")
        run(Membership(cohort=world.alpha, person=person.id, role="learner", section=section).save())
        emails.append(person.email)
    return emails


# --- materials ---------------------------------------------------------------------------------------------

def test_a_facilitator_leaves_materials_that_the_section_sees_and_outsiders_do_not(world):
    with signed_in_client("fay@example.com", now=NOW) as fay:
        added = post_form(fay, f"/facilitator/sessions/{world.past}/materials",
                          {"kind": "recording", "title": "", "url": "https://video.example.org/r/1",
                           "text": "Slides are *attached*"})
        assert added.status_code == 303
        fragment = post_form(fay, f"/facilitator/sessions/{world.past}/materials",
                             {"kind": "slides", "title": "Deck", "url": "http://slides.example.org/d"}, htmx=True)
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert fragment.text.lstrip().startswith('<section id="materials"') and "Deck" in fragment.text
        page = fay.get(f"/facilitator/sessions/{world.past}")
        assert "Materials (2)" in page.text
        # a session of a cohort Fay does not run
        assert post_form(fay, f"/facilitator/sessions/{world.beta_next}/materials",
                         {"kind": "link", "url": "https://x.org"}).status_code == 404
    link = '<a href="https://video.example.org/r/1" target="_blank" rel="noopener noreferrer nofollow">Recording</a>'
    with signed_in_client("lea@example.com", now=NOW) as lea:
        schedule = lea.get("/learner")
        assert link in schedule.text and "Deck" in schedule.text
        session = lea.get(f"/learner/sessions/{world.past}")
        assert session.status_code == 200 and link in session.text and "<em>attached</em>" in session.text
    with signed_in_client("ben@example.com", now=NOW) as ben:
        assert ben.get(f"/learner/sessions/{world.past}").status_code == 404
        assert "video.example.org" not in ben.get("/learner").text
    found = run(materials_for_sessions([world.past, world.next]))
    assert found == {world.past: [
        {"title": "Recording", "url": "https://video.example.org/r/1", "kind": "recording",
         "text": "Slides are *attached*"},
        {"title": "Deck", "url": "http://slides.example.org/d", "kind": "slides", "text": ""},
    ]}


@pytest.mark.parametrize("url, message", [
    ("javascript:alert(1)", "only http:// and https:// links are accepted (got javascript:)"),
    ("JavaScript:alert(1)", "only http:// and https:// links are accepted"),
    ("data:text/html,<b>hi</b>", "only http:// and https:// links are accepted (got data:)"),
    ("//evil.example.org/x", "only http:// and https:// links are accepted (got no scheme)"),
    ("https:///nohost", "needs a host"),
    ("https://exa mple.org", "no spaces"),
])
def test_only_http_links_become_materials(world, url, message):
    with signed_in_client("fay@example.com", now=NOW) as fay:
        refused = post_form(fay, f"/facilitator/sessions/{world.past}/materials", {"kind": "link", "url": url})
        assert refused.status_code == 400 and message in refused.text
        again = post_form(fay, f"/facilitator/sessions/{world.past}/materials", {"kind": "link", "url": url},
                          htmx=True)
        assert again.status_code == 200 and message in again.text
    assert run(SessionMaterial.count()) == 0


def test_hostile_material_text_is_neutralised_and_removal_works(world):
    # one signed-in client at a time: on PostgreSQL two apps on two loops would share one connection pool
    with signed_in_client("fay@example.com", now=NOW) as fay:
        assert post_form(fay, f"/facilitator/sessions/{world.past}/materials",
                         {"kind": "notes", "text": HOSTILE}).status_code == 303
    material = run(SessionMaterial.select().first())
    with signed_in_client("lea@example.com", now=NOW) as lea:
        html = lea.get(f"/learner/sessions/{world.past}").text
    assert unsafe_markup(html) == []
    assert "&lt;script&gt;" in html  # shown as text
    assert '<a href="https://example.org/notes" target="_blank" rel="noopener noreferrer nofollow">good</a>' in html
    assert "<strong>bold</strong>" in html
    with signed_in_client("fay@example.com", now=NOW) as fay:
        gone = post_form(fay, f"/facilitator/sessions/{world.past}/materials/{material['id']}/delete")
        assert gone.status_code == 303
        assert post_form(fay, f"/facilitator/sessions/{world.past}/materials/{material['id']}/delete").status_code == 404
    assert run(SessionMaterial.count()) == 0


def test_a_learner_marked_absent_is_pointed_to_the_materials(world):
    run(Attendance(session=world.past, person=world.lea, status="absent", marked_by=world.fay, marked_at=NOW).save())
    with signed_in_client("lea@example.com", now=NOW) as lea:
        assert "Catch up on what you missed" not in lea.get("/learner").text  # nothing left behind yet
    run(SessionMaterial(session=world.past, kind="notes", title="Notes", text="What we covered").save())
    with signed_in_client("lea@example.com", now=NOW) as lea:
        page = lea.get("/learner").text
    assert "Catch up on what you missed" in page and f'href="/learner/sessions/{world.past}"' in page
    assert "What we covered" in page
    with signed_in_client("leo@example.com", now=NOW) as leo:
        assert "Catch up on what you missed" not in leo.get("/learner").text


# --- feedback ----------------------------------------------------------------------------------------------

def test_a_learner_rates_a_session_in_one_click_and_can_change_it(world):
    with signed_in_client("lea@example.com", now=NOW) as lea:
        page = lea.get("/learner").text
        assert f'action="/learner/sessions/{world.past}/feedback"' in page  # over: open for feedback
        assert f'action="/learner/sessions/{world.next}/feedback"' not in page  # not started yet
        saved = post_form(lea, f"/learner/sessions/{world.past}/feedback",
                          {"rating": "4", "comment": "Good pace", "compact": "1"}, htmx=True)
        assert saved.status_code == 200 and "<html" not in saved.text
        assert saved.text.lstrip().startswith(f'<div id="feedback-{world.past}"')
        assert "Saved: you rated it 4 of 5, with a comment." in saved.text
        plain = post_form(lea, f"/learner/sessions/{world.past}/feedback", {"rating": "5"})
        assert plain.status_code == 303 and plain.headers["location"] == f"/learner/sessions/{world.past}"
        early = post_form(lea, f"/learner/sessions/{world.next}/feedback", {"rating": "5"})
        assert early.status_code == 400 and "once it has started" in early.text
        for bad in ("0", "6", "x", ""):
            assert post_form(lea, f"/learner/sessions/{world.past}/feedback", {"rating": bad}).status_code == 400
        assert post_form(lea, f"/learner/sessions/{world.beta_next}/feedback", {"rating": "3"}).status_code == 404
    rows = run(SessionFeedback.select(SessionFeedback.person, SessionFeedback.rating, SessionFeedback.comment))
    assert rows == [{"person": world.lea, "rating": 5, "comment": ""}]


def test_a_learner_marked_absent_cannot_rate(world):
    run(Attendance(session=world.past, person=world.leo, status="absent", marked_by=world.fay, marked_at=NOW).save())
    with signed_in_client("leo@example.com", now=NOW) as leo:
        refused = post_form(leo, f"/learner/sessions/{world.past}/feedback", {"rating": "1"})
    assert refused.status_code == 400 and "marked absent" in refused.text
    assert run(SessionFeedback.count()) == 0


def _rate(emails_ratings, session_id):
    for email, rating, comment in emails_ratings:
        with signed_in_client(email, now=NOW) as client:
            response = post_form(client, f"/learner/sessions/{session_id}/feedback",
                                 {"rating": str(rating), "comment": comment})
            assert response.status_code == 303, response.text[:300]


def test_results_and_averages_hide_groups_smaller_than_three(world):
    extra = add_learners(world, 1)
    _rate([("lea@example.com", 5, "Loved the demo"), ("leo@example.com", 2, "")], world.past)
    with signed_in_client("fay@example.com", now=NOW) as fay:
        page = fay.get(f"/facilitator/sessions/{world.past}").text
    assert "Feedback (2 responses)" in page and "Results appear once at least 3" in page and "1 more to go" in page
    assert "Loved the demo" not in page and "Average" not in page
    with signed_in_client("dee@example.com", now=NOW) as dee:
        report = dee.get("/feedback")
        assert report.status_code == 200 and "fewer than 3 learners" in report.text and "3.50" not in report.text
        rows = list(csv.DictReader(io.StringIO(dee.get("/feedback/feedback.csv").text)))
    assert {(r["group"], r["name"], r["responses"], r["learners"], r["average"]) for r in rows} == {
        ("unit", "Kickoff", "2", "2", ""), ("facilitator", "Fay Facilitator", "2", "2", ""),
        ("cohort", "Alpha", "2", "2", "")}

    _rate([(extra[0], 4, "More exercises")], world.past)
    with signed_in_client("fay@example.com", now=NOW) as fay:
        page = fay.get(f"/facilitator/sessions/{world.past}").text
    assert "Feedback (3 responses)" in page and "Average <strong>3.7</strong>" in page
    assert "Loved the demo" in page and "More exercises" in page
    assert "Lea Learner" not in page.split('id="feedback"')[1]  # comments carry no names
    with signed_in_client("dee@example.com", now=NOW) as dee:
        report = dee.get("/feedback").text
        rows = list(csv.DictReader(io.StringIO(dee.get("/feedback/feedback.csv").text)))
    assert "3.67" in report
    assert {(r["group"], r["name"], r["average"]) for r in rows} == {
        ("unit", "Kickoff", "3.67"), ("facilitator", "Fay Facilitator", "3.67"), ("cohort", "Alpha", "3.67")}


def test_the_small_group_rule_counts_learners_not_responses(world):
    """Two learners rating many sessions are still two learners: no average."""
    _rate([("lea@example.com", 5, ""), ("leo@example.com", 1, "")], world.past)
    run(SessionFeedback(session=world.next, person=world.lea, rating=4, created_at=NOW, updated_at=NOW).save())
    with signed_in_client("dee@example.com", now=NOW) as dee:
        rows = list(csv.DictReader(io.StringIO(dee.get("/feedback/feedback.csv").text)))
    cohort = next(r for r in rows if r["group"] == "cohort")
    assert (cohort["responses"], cohort["learners"], cohort["average"]) == ("3", "2", "")


# --- the Q&A board -----------------------------------------------------------------------------------------

def test_another_cohorts_board_is_not_found(world):
    run(Question(cohort=world.alpha, author=world.lea, title="Alpha only", created_at=NOW).save())
    question = run(Question.select(Question.id).first())["id"]
    with signed_in_client("ben@example.com", now=NOW) as ben:
        assert ben.get(f"/board/{world.alpha}").status_code == 404
        assert post_form(ben, f"/board/{world.alpha}/questions", {"title": "Hi"}).status_code == 404
        assert post_form(ben, f"/board/{world.alpha}/questions/{question}/answers", {"body": "x"}).status_code == 404
        assert ben.get(f"/board/{world.beta}").status_code == 200
        assert post_form(ben, f"/board/{world.beta}/questions/{question}/answers", {"body": "x"}).status_code == 404
        assert "Alpha only" not in ben.get(f"/board/{world.beta}").text
    with signed_in_client("finn@example.com", now=NOW) as finn:
        assert finn.get(f"/board/{world.alpha}").status_code == 404
    with signed_in_client("mia@example.com", now=NOW) as mia:
        assert mia.get(f"/board/{world.alpha}").status_code == 403
    assert run(Answer.count()) == 0


def test_posting_answering_and_moderating(world):
    with signed_in_client("lea@example.com", now=NOW) as lea:
        posted = post_form(lea, f"/board/{world.alpha}/questions",
                           {"title": "Where is the tour?", "body": "I *cannot* find it", "topic": f"module-{world.m_tour}"},
                           htmx=True)
        assert posted.status_code == 200 and posted.text.lstrip().startswith('<div id="board">')
        assert "Where is the tour?" in posted.text and "<em>cannot</em>" in posted.text
        assert "about Module: Product tour" in posted.text
        wrong_topic = post_form(lea, f"/board/{world.alpha}/questions", {"title": "x", "topic": f"module-{world.m_beta}"})
        assert wrong_topic.status_code == 400 and "choose one of this cohort" in wrong_topic.text
        assert post_form(lea, f"/board/{world.alpha}/questions", {"title": " "}).status_code == 400
    question = run(Question.select(Question.id).first())["id"]
    with signed_in_client("leo@example.com", now=NOW) as leo:
        answered = post_form(leo, f"/board/{world.alpha}/questions/{question}/answers", {"body": "Under *Modules*"})
        assert answered.status_code == 303 and answered.headers["location"].startswith(f"/board/{world.alpha}#answer-")
        assert post_form(leo, f"/board/{world.alpha}/questions/{question}",
                         {"title": "Hijacked"}).status_code == 403
        assert post_form(leo, f"/board/{world.alpha}/questions/{question}/delete").status_code == 403
        assert post_form(leo, f"/board/{world.alpha}/questions/{question}/pin", {"pinned": "1"}).status_code == 403
        assert leo.get(f"/board/{world.alpha}/questions/{question}/edit").status_code == 403
    first = run(Answer.select(Answer.id).first())["id"]
    with signed_in_client("lea@example.com", now=NOW) as lea:
        assert post_form(lea, f"/board/{world.alpha}/answers/{first}/accept", {"accepted": "1"}).status_code == 403
        edit = lea.get(f"/board/{world.alpha}/questions/{question}/edit")
        assert edit.status_code == 200 and 'value="Where is the tour?"' in edit.text
        assert post_form(lea, f"/board/{world.alpha}/questions/{question}",
                         {"title": "Where is the product tour?", "body": "", "topic": ""}).status_code == 303
    with signed_in_client("fay@example.com", now=NOW) as fay:
        second = post_form(fay, f"/board/{world.alpha}/questions/{question}/answers", {"body": "Top menu"})
        second_id = int(second.headers["location"].rsplit("-", 1)[1])
        assert post_form(fay, f"/board/{world.alpha}/answers/{first}/accept", {"accepted": "1"}).status_code == 303
        assert post_form(fay, f"/board/{world.alpha}/answers/{second_id}/accept", {"accepted": "1"}).status_code == 303
        assert post_form(fay, f"/board/{world.alpha}/questions/{question}/pin", {"pinned": "1"}).status_code == 303
        assert post_form(fay, f"/board/{world.alpha}/questions/{question}/pin", {"pinned": "yes"}).status_code == 400
        page = fay.get(f"/board/{world.alpha}").text
    assert [a["id"] for a in run(Answer.select(Answer.id).where(Answer.accepted == True))] == [second_id]  # noqa: E712
    assert "Accepted answer" in page and "Pinned" in page and "Where is the product tour?" in page
    assert page.index(f'id="answer-{second_id}"') < page.index(f'id="answer-{first}"')  # accepted first
    assert "Fay Facilitator (facilitator)" in page
    with signed_in_client("fay@example.com", now=NOW) as fay:  # moderation: any post
        assert post_form(fay, f"/board/{world.alpha}/answers/{first}/delete").status_code == 303
        assert post_form(fay, f"/board/{world.alpha}/questions/{question}/delete", htmx=True).status_code == 200
    assert run(Question.count()) == 0 and run(Answer.count()) == 0


def test_learners_edit_and_delete_their_own_posts(world):
    with signed_in_client("lea@example.com", now=NOW) as lea:
        post_form(lea, f"/board/{world.alpha}/questions", {"title": "Mine"})
        question = run(Question.select(Question.id).first())["id"]
        post_form(lea, f"/board/{world.alpha}/questions/{question}/answers", {"body": "Self answer"})
        answer = run(Answer.select(Answer.id).first())["id"]
        fragment = lea.get(f"/board/{world.alpha}/answers/{answer}/edit", headers={"HX-Request": "true"})
        assert fragment.text.lstrip().startswith(f'<div id="answer-{answer}"') and "Self answer" in fragment.text
        assert post_form(lea, f"/board/{world.alpha}/answers/{answer}", {"body": "Edited"}).status_code == 303
        assert post_form(lea, f"/board/{world.alpha}/answers/{answer}", {"body": ""}).status_code == 400
        assert "Edited" in lea.get(f"/board/{world.alpha}").text and "edited" in lea.get(f"/board/{world.alpha}").text
        assert post_form(lea, f"/board/{world.alpha}/answers/{answer}/delete").status_code == 303
        assert post_form(lea, f"/board/{world.alpha}/questions/{question}/delete").status_code == 303
        assert post_form(lea, f"/board/{world.alpha}/questions/{question}/delete").status_code == 404
    assert run(Question.count()) == 0


def test_hostile_markdown_on_the_board_is_neutralised(world):
    with signed_in_client("lea@example.com", now=NOW) as lea:
        post_form(lea, f"/board/{world.alpha}/questions", {"title": "<b>Title</b>", "body": HOSTILE})
        question = run(Question.select(Question.id).first())["id"]
        post_form(lea, f"/board/{world.alpha}/questions/{question}/answers",
                  {"body": '<a href="javascript:alert(2)" onclick="x()">click</a> [m](mailto:help@example.org)'})
        page = lea.get(f"/board/{world.alpha}").text
    assert unsafe_markup(page) == []
    assert "<b>Title</b>" not in page and "&lt;b&gt;Title&lt;/b&gt;" in page
    assert '<a href="https://example.org/notes" target="_blank" rel="noopener noreferrer nofollow">good</a>' in page
    assert '<a href="mailto:help@example.org" target="_blank" rel="noopener noreferrer nofollow">m</a>' in page


# --- support contact ---------------------------------------------------------------------------------------

def test_the_support_contact_is_set_in_the_settings_and_shown_on_learner_pages(world):
    program = run(Program.select().first())
    settings = {key: str(program[key]) for key in ("live_minutes", "module_max_minutes", "weekly_async_minutes",
                                                  "live_sessions_per_week", "prework_lead_hours")}
    with signed_in_client("dee@example.com", now=NOW) as dee:
        for bad in ("javascript:alert(1)", "not a contact", "https://"):
            refused = post_form(dee, f"/programs/{program['id']}", {"name": "Program", **settings, "support": bad})
            assert refused.status_code == 400 and "Support contact: expected an email address or an http(s) URL" in refused.text
        assert post_form(dee, f"/programs/{program['id']}",
                         {"name": "Program", **settings, "support": "help@example.org"}).status_code == 303
        assert 'value="help@example.org"' in dee.get(f"/programs/{program['id']}").text
        exported = dee.get(f"/programs/{program['id']}/program.toml").text
    assert 'support = "help@example.org"' in exported
    assert parse_program("p.toml", exported.encode()).support == "help@example.org"
    with signed_in_client("lea@example.com", now=NOW) as lea:
        for path in ("/learner", f"/learner/sessions/{world.past}", f"/board/{world.alpha}"):
            assert '<a href="mailto:help@example.org">help@example.org</a>' in lea.get(path).text, path
    run(Program.update({Program.support: "https://help.example.org/support"}).where(Program.id == program["id"]))
    with signed_in_client("lea@example.com", now=NOW) as lea:
        assert ('<a href="https://help.example.org/support" target="_blank" rel="noopener noreferrer nofollow">'
                in lea.get("/learner").text)


@pytest.mark.parametrize("value, ok", [("help@example.org", True), ("https://help.example.org/a?b=c", True),
                                       ("http://x.org", True), ("javascript:alert(1)", False), ("ftp://x.org", False),
                                       ("https://", False), ("help desk", False), ("", False)])
def test_the_program_file_reads_the_support_contact(value, ok):
    text = f'name = "P"\nsupport = "{value}"\n[[unit]]\nid = "a"\ntitle = "A"\nminutes = 10\n'
    if ok:
        assert parse_program("program.toml", text.encode()).support == value
    else:
        with pytest.raises(InputError, match=r"program.toml: support: "):
            parse_program("program.toml", text.encode())
