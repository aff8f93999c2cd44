"""THE access table: every route × every role (and signed out) → the expected status.

Each row is (method, path, role, status); role None means signed out. Paths name records of the small
published world in readiness_helpers (`{alpha}`, `{m_beta}`, ...) plus `{program}`, `{unit}` and `{run}`.
POST rows send a valid CSRF token and an empty form, so a permitted role gets the form's 400 (nothing is
changed) and a refused one gets 403; signed-out requests are sent to the sign-in page (303).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from readiness_helpers import build_world
from web_helpers import PASSWORD, csrf_token, run, sign_in, web_client

from models.tables import Answer, Membership, Program, Question, SessionMaterial, Unit
from server.passwords import hash_password
from server.services.planner_runs import create_run
from server.services.variants import Variant, create_comparison

EMAIL = {
    "designer": "dee@example.com",
    "facilitator": "fay@example.com",  # runs cohort Alpha only
    "learner": "lea@example.com",  # in cohort Alpha; Ben is the learner of Beta
    "manager": "mia@example.com",  # manages Lea and Leo (Alpha)
}
ROLES = ("designer", "facilitator", "learner", "manager", None)


def each_role(method: str, path: str, *, designer: int, others: int = 403, signed_out: int = 303) -> list:
    """A designer-only route: the designer gets `designer`, other roles `others`, signed out `signed_out`."""
    statuses = {"designer": designer, "facilitator": others, "learner": others, "manager": others, None: signed_out}
    return [(method, path, role, statuses[role]) for role in ROLES]


def everyone(method: str, path: str, signed_in: int, signed_out: int = 303) -> list:
    return [(method, path, role, signed_in if role else signed_out) for role in ROLES]


ROWS: list[tuple[str, str, str | None, int]] = [
    # --- open ---------------------------------------------------------------------------------------------
    *everyone("GET", "/healthz", 200, 200),
    *everyone("GET", "/static/htmx.min.js", 200, 200),
    *[("GET", "/signin", role, 303 if role else 200) for role in ROLES],
    *everyone("POST", "/signout", 303, 303),
    # --- anyone signed in -----------------------------------------------------------------------------------
    ("GET", "/", "designer", 200),  # the designer's dashboard
    ("GET", "/", "facilitator", 303),  # -> /facilitator
    ("GET", "/", "learner", 303),  # -> /learner
    ("GET", "/", "manager", 303),  # -> /manager
    ("GET", "/", None, 303),  # -> /signin?next=/
    *everyone("GET", "/profile", 200),
    *everyone("POST", "/profile", 400),
    # a facilitator's own absences (designers pass the role guard; the form is empty, the absence unknown)
    *[("POST", "/profile/absences", r, s) for r, s in zip(ROLES, (400, 400, 403, 403, 303), strict=True)],
    *[("POST", "/profile/absences/999999/delete", r, s)
      for r, s in zip(ROLES, (404, 404, 403, 403, 303), strict=True)],
    # --- designer pages -------------------------------------------------------------------------------------
    *each_role("GET", "/programs", designer=200),
    *each_role("POST", "/programs", designer=400),
    *each_role("GET", "/programs/upload", designer=200),
    *each_role("POST", "/programs/upload", designer=400),
    *each_role("GET", "/programs/{program}", designer=200),
    *each_role("GET", "/programs/999999", designer=404),
    *each_role("POST", "/programs/{program}", designer=400),
    *each_role("GET", "/programs/{program}/program.toml", designer=200),
    *each_role("GET", "/programs/999999/program.toml", designer=404),
    *each_role("POST", "/programs/{program}/units", designer=400),
    *each_role("GET", "/programs/{program}/units/{unit}", designer=200),
    *each_role("POST", "/programs/{program}/units/{unit}", designer=400),
    *each_role("POST", "/programs/{program}/units/{unit}/delete", designer=400),  # published: units fixed
    *each_role("GET", "/cohorts", designer=200),
    *each_role("POST", "/cohorts", designer=400),
    *each_role("GET", "/cohorts/{alpha}", designer=200),
    *each_role("GET", "/cohorts/999999", designer=404),
    *each_role("POST", "/cohorts/{alpha}/members", designer=400),
    *each_role("POST", "/cohorts/{alpha}/absences", designer=400),
    *each_role("POST", "/cohorts/{alpha}/absences/999999/delete", designer=404),
    # the lifecycle: a member's page (move, transfer), removing, the roster CSV update; empty forms change nothing
    *each_role("GET", "/cohorts/{alpha}/members/{lea_in_alpha}", designer=200),
    *each_role("GET", "/cohorts/{alpha}/members/999999", designer=404),
    *each_role("GET", "/cohorts/{beta}/members/{lea_in_alpha}", designer=404),  # not a member of Beta
    *each_role("POST", "/cohorts/{alpha}/members/{lea_in_alpha}/move", designer=400),
    *each_role("POST", "/cohorts/{alpha}/members/{lea_in_alpha}/transfer", designer=400),
    *each_role("POST", "/cohorts/{alpha}/members/999999/move", designer=404),
    *each_role("POST", "/cohorts/{alpha}/members/999999/transfer", designer=404),
    *each_role("POST", "/cohorts/{alpha}/members/999999/remove", designer=404),
    *each_role("GET", "/cohorts/{alpha}/roster-update", designer=200),
    *each_role("GET", "/cohorts/999999/roster-update", designer=404),
    *each_role("POST", "/cohorts/{alpha}/roster-update", designer=400),  # no file
    *each_role("POST", "/cohorts/{alpha}/roster-update/apply", designer=400),  # no previewed file
    *each_role("POST", "/plans", designer=400),
    *each_role("GET", "/plans/{run}", designer=200),
    *each_role("GET", "/plans/{run}/status", designer=200),
    *each_role("POST", "/plans/{run}/publish", designer=400),  # still queued: nothing to publish
    *each_role("POST", "/plans/{run}/cancel", designer=303),
    # seeing a plan: the run is still queued (no plan to show yet: a one-line 400); a cohort's views always draw
    *each_role("GET", "/plans/{run}/calendar", designer=400),
    *each_role("GET", "/plans/{run}/heatmap", designer=400),
    *each_role("GET", "/plans/999999/calendar", designer=404),
    *each_role("GET", "/plans/999999/heatmap", designer=404),
    *each_role("GET", "/cohorts/{alpha}/calendar", designer=200),
    *each_role("GET", "/cohorts/{alpha}/heatmap", designer=200),
    *each_role("GET", "/cohorts/999999/calendar", designer=404),
    *each_role("GET", "/cohorts/999999/heatmap", designer=404),
    # what-if variants: the form, starting them (empty form: 400, nothing queued), a comparison and its poll
    *each_role("GET", "/plans/variants", designer=200),
    *each_role("POST", "/plans/variants", designer=400),
    *each_role("GET", "/plans/variants/{comparison}", designer=200),
    *each_role("GET", "/plans/variants/{comparison}/status", designer=200),
    *each_role("GET", "/plans/variants/999999", designer=404),
    *each_role("GET", "/people", designer=200),
    *each_role("POST", "/people", designer=400),
    *each_role("POST", "/people/{lea}/password", designer=400),
    *each_role("POST", "/people/999999/deactivate", designer=404),
    *each_role("POST", "/people/999999/reactivate", designer=404),
    ("POST", "/people/{designer}/deactivate", "designer", 409),  # not one's own account
    ("POST", "/people/{lea}/reactivate", "designer", 409),  # active already: nothing changes
    # --- learner / facilitator / manager routes: appended below by the pages' owner --------------------------
    # statuses in ROLES order: designer, facilitator, learner, manager, signed out. A designer passes the role
    # guards but is in no cohort as a learner, so a learner's module is "not found" for them.
    *[("GET", "/learner", r, s) for r, s in zip(ROLES, (200, 403, 200, 403, 303), strict=True)],
    *[("POST", "/learner/modules/{m_welcome}/done", r, s) for r, s in zip(ROLES, (404, 403, 303, 403, 303), strict=True)],
    *[("POST", "/learner/modules/{m_welcome}/undo", r, s) for r, s in zip(ROLES, (404, 403, 303, 403, 303), strict=True)],
    # a learner asking for another learner's records (a module of Beta; Lea is in Alpha)
    ("POST", "/learner/modules/{m_beta}/done", "learner", 404),
    ("POST", "/learner/modules/{m_beta}/undo", "learner", 404),
    ("POST", "/learner/modules/999999/done", "learner", 404),
    *[("GET", "/facilitator", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    *[("GET", "/facilitator/sessions/{next}", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    # empty form: no status -> 400 for those who may mark, nothing written
    *[("POST", "/facilitator/sessions/{next}/attendance/{lea}", r, s)
      for r, s in zip(ROLES, (400, 400, 403, 403, 303), strict=True)],
    # a facilitator asking for a session of a cohort they do not run (Beta is Finn's), or a learner not theirs
    ("GET", "/facilitator/sessions/{beta_next}", "facilitator", 404),
    ("GET", "/facilitator/sessions/{beta_next}", "designer", 200),
    ("POST", "/facilitator/sessions/{beta_next}/attendance/{ben}", "facilitator", 404),
    ("POST", "/facilitator/sessions/{next}/attendance/{ben}", "facilitator", 404),
    ("GET", "/facilitator/sessions/999999", "facilitator", 404),
    # attendance (#13): the check-in box, meeting-report import, a learner's record and its CSV
    *[("GET", "/facilitator/sessions/{next}/checkin", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    ("GET", "/facilitator/sessions/{beta_next}/checkin", "facilitator", 404),
    ("GET", "/facilitator/sessions/999999/checkin", "designer", 404),
    *[("GET", "/facilitator/sessions/{next}/import", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    ("GET", "/facilitator/sessions/{beta_next}/import", "facilitator", 404),
    # no file: the form's 400 for those who may import, nothing read
    *[("POST", "/facilitator/sessions/{next}/import", r, s) for r, s in zip(ROLES, (400, 400, 403, 403, 303), strict=True)],
    ("POST", "/facilitator/sessions/{beta_next}/import", "facilitator", 404),
    *[("POST", "/facilitator/sessions/{next}/import/confirm", r, s)
      for r, s in zip(ROLES, (400, 400, 403, 403, 303), strict=True)],
    ("POST", "/facilitator/sessions/{beta_next}/import/confirm", "facilitator", 404),
    *[("GET", "/facilitator/learners/{lea}", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    *[("GET", "/facilitator/learners/{lea}/trail.csv", r, s) for r, s in zip(ROLES, (200, 200, 403, 403, 303), strict=True)],
    ("GET", "/facilitator/learners/{ben}", "facilitator", 404),  # Beta's learner: not Fay's
    ("GET", "/facilitator/learners/{ben}/trail.csv", "facilitator", 404),
    ("GET", "/facilitator/learners/{fay}", "facilitator", 404),  # not a learner
    ("GET", "/facilitator/learners/999999", "designer", 404),
    # self check-in: learners (a designer passes the guard but is nobody's learner: the form's 400 says so)
    *[("GET", "/learner/checkin", r, s) for r, s in zip(ROLES, (200, 403, 200, 403, 303), strict=True)],
    *[("POST", "/learner/checkin", r, s) for r, s in zip(ROLES, (400, 403, 400, 403, 303), strict=True)],
    *[("GET", "/manager", r, s) for r, s in zip(ROLES, (200, 403, 403, 200, 303), strict=True)],
    *[("GET", "/manager/readiness.csv", r, s) for r, s in zip(ROLES, (200, 403, 403, 200, 303), strict=True)],
    # one upcoming session's readiness: a designer passes the guard but has no reports in it
    *[("GET", "/manager/sessions/{next}", r, s) for r, s in zip(ROLES, (404, 403, 403, 200, 303), strict=True)],
    ("GET", "/manager/sessions/{beta_next}", "manager", 404),  # none of Mia's reports are in it
    # calendar feeds: the box on the profile (own feed only: the person is always the signed-in one)
    *everyone("GET", "/profile/feed", 200),
    *everyone("POST", "/profile/feed/alarms", 400),  # no 'alarms' field
    *everyone("POST", "/profile/feed/rotate", 303),  # rotates the caller's own token, back to /profile
    # the feed itself: no sign-in (the token is the credential); a wrong token is 404 for everyone
    *everyone("GET", "/feed/not-a-real-token.ics", 404, 404),
    *everyone("GET", "/feed/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics", 404, 404),
    # email: everyone's own preferences (an empty form is a 400: nothing chosen, nothing written); the
    # unsubscribe link needs no sign-in (the token is the credential; a wrong one is 404 for everyone); the
    # outbox is the designer's
    *everyone("GET", "/preferences", 200),
    *everyone("POST", "/preferences", 400),
    *everyone("GET", "/unsubscribe/0123456789abcdef0123456789abcdef01234567", 404, 404),
    *everyone("POST", "/unsubscribe/0123456789abcdef0123456789abcdef01234567", 404, 404),
    *each_role("GET", "/outbox", designer=200),
    *each_role("GET", "/outbox/999999", designer=404),
    # after the live session (#15): a learner's session page and feedback, materials, the designer's report
    *[("GET", "/learner/sessions/{past}", r, s) for r, s in zip(ROLES, (404, 403, 200, 403, 303), strict=True)],
    ("GET", "/learner/sessions/{beta_next}", "learner", 404),  # not Lea's section
    ("GET", "/learner/sessions/999999", "learner", 404),
    *[("POST", "/learner/sessions/{past}/feedback", r, s) for r, s in zip(ROLES, (404, 403, 400, 403, 303), strict=True)],
    ("POST", "/learner/sessions/{beta_next}/feedback", "learner", 404),
    *[("POST", "/facilitator/sessions/{past}/materials", r, s)
      for r, s in zip(ROLES, (400, 400, 403, 403, 303), strict=True)],
    ("POST", "/facilitator/sessions/{beta_next}/materials", "facilitator", 404),
    *[("POST", "/facilitator/sessions/{past}/materials/{material}/delete", r, s)
      for r, s in zip(ROLES, (303, 303, 403, 403, 303), strict=True)],
    ("POST", "/facilitator/sessions/{beta_next}/materials/{material}/delete", "facilitator", 404),
    ("POST", "/facilitator/sessions/{past}/materials/999999/delete", "facilitator", 404),
    *each_role("GET", "/feedback", designer=200),
    *each_role("GET", "/feedback/feedback.csv", designer=200),
    # the Q&A board: Lea and Fay are Alpha's; Ben (Beta) is not a learner there, so he is "not found" (404)
    *[("GET", "/board", r, s) for r, s in zip(ROLES, (200, 303, 303, 403, 303), strict=True)],
    *[("GET", "/board/{alpha}", r, s) for r, s in zip(ROLES, (200, 200, 200, 403, 303), strict=True)],
    ("GET", "/board/{beta}", "learner", 404),
    ("GET", "/board/{beta}", "facilitator", 404),
    ("GET", "/board/999999", "designer", 404),
    # empty forms: a missing title or body is a 400, nothing written
    *[("POST", "/board/{alpha}/questions", r, s) for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],
    ("POST", "/board/{beta}/questions", "learner", 404),
    # Lea's own question: she may edit it; the facilitator and the designer moderate (delete) but do not edit
    *[("GET", "/board/{alpha}/questions/{question}/edit", r, s)
      for r, s in zip(ROLES, (403, 403, 200, 403, 303), strict=True)],
    *[("POST", "/board/{alpha}/questions/{question}", r, s)
      for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],
    ("POST", "/board/{beta}/questions/{question}", "facilitator", 404),
    *[("POST", "/board/{alpha}/questions/{question}/pin", r, s)
      for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],  # no pinned field
    *[("POST", "/board/{alpha}/questions/{question}/answers", r, s)
      for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],
    *[("GET", "/board/{alpha}/answers/{answer}/edit", r, s)
      for r, s in zip(ROLES, (403, 403, 200, 403, 303), strict=True)],
    *[("POST", "/board/{alpha}/answers/{answer}", r, s)
      for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],
    *[("POST", "/board/{alpha}/answers/{answer}/accept", r, s)
      for r, s in zip(ROLES, (400, 400, 400, 403, 303), strict=True)],
    ("GET", "/board/{alpha}/answers/999999/edit", "learner", 404),
    # deleting: the last rows of the table, so nothing after them misses the posts (another cohort's first)
    ("POST", "/board/{beta}/questions/{question}/delete", "facilitator", 404),
    ("POST", "/board/{beta}/answers/{answer}/delete", "learner", 404),
    ("POST", "/board/{alpha}/answers/{answer}/delete", "manager", 403),
    ("POST", "/board/{alpha}/answers/{answer}/delete", None, 303),
    ("POST", "/board/{alpha}/answers/{answer}/delete", "facilitator", 303),  # moderation
    ("POST", "/board/{alpha}/answers/{answer}/delete", "designer", 404),  # gone already
    ("POST", "/board/{alpha}/questions/{question}/delete", "manager", 403),
    ("POST", "/board/{alpha}/questions/{question}/delete", None, 303),
    ("POST", "/board/{alpha}/questions/{question}/delete", "learner", 303),  # her own
    ("POST", "/board/{alpha}/questions/{question}/delete", "facilitator", 404),  # gone already
    ("POST", "/board/{alpha}/questions/{question}/delete", "designer", 404),
    # --- end of appended routes -------------------------------------------------------------------------------
]


def _row_id(row) -> str:
    method, path, role, status = row
    return f"{method} {path} as {role or 'signed-out'} -> {status}"


@pytest.fixture(scope="module")
def world_ids(migrated_db) -> dict[str, int]:
    """One world for the whole table (built once: the rows only read it, or change nothing that another row
    depends on)."""
    from models.migrate import delete_all_rows

    run(delete_all_rows())
    world = run(build_world(password_hash=hash_password(PASSWORD)))
    ids = dict(vars(world))
    ids["program"] = run(Program.select(Program.id).first())["id"]
    ids["unit"] = run(Unit.select(Unit.id).first())["id"]
    ids["lea_in_alpha"] = run(Membership.select(Membership.id).where(
        (Membership.person == ids["lea"]) & (Membership.cohort == ids["alpha"])).first())["id"]
    ids["run"] = run(create_run(ids["program"], ["Alpha"], ids["designer"], 5, now=datetime.now(UTC)))
    # after the live session: a material on Alpha's past session, Lea's question and her answer on its board;
    # the material's delete rows each remove it, so each of them gets a fresh one (see test_access)
    question = Question(cohort=world.alpha, author=world.lea, title="Where?", created_at=datetime.now(UTC))
    run(question.save())
    answer = Answer(question=question.id, author=world.lea, body="Here.", created_at=datetime.now(UTC))
    run(answer.save())
    ids.update(question=question.id, answer=answer.id, material=_material(world.past))
    ids["comparison"] = run(create_comparison(ids["program"], ["Alpha"], [Variant(sections=2)], ids["designer"], 5,
                                              now=datetime.now(UTC)))[0]
    return ids


def _material(session_id: int) -> int:
    row = SessionMaterial(session=session_id, kind="notes", title="Notes", text="Notes")
    run(row.save())
    return row.id


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_access(world_ids, row):
    method, path, role, expected = row
    if "{material}" in path:  # a delete row: a material of that session, fresh for each row
        session = "beta_next" if "{beta_next}" in path else "past"
        world_ids = {**world_ids, "material": _material(world_ids[session])}
    url = path.format(**world_ids)
    with web_client() as client:
        if role is not None:
            assert sign_in(client, EMAIL[role]).status_code == 303, f"cannot sign in as {role}"
        if method == "GET":
            response = client.get(url, follow_redirects=False)
        else:
            response = client.post(url, data={"_csrf_token": csrf_token(client)}, follow_redirects=False)
    assert response.status_code == expected, f"{method} {url} as {role}: {response.status_code}\n{response.text[:300]}"
    if expected == 303 and role is None and path not in ("/signout",):
        assert response.headers["location"].startswith("/signin")


def test_every_route_is_in_the_table():
    """A new route must get its rows here: every path the app mounts is matched by some row of the table."""
    import re

    from server.app import create_app

    table_paths = {re.sub(r"\{[^}]+\}", "1", path) for _, path, _, _ in ROWS}
    missing = []
    for route in create_app().routes:
        if route.path.startswith("/static"):
            continue
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path)) + "$"
        if not any(re.match(pattern, path) for path in table_paths):
            missing.append(route.path)
    assert not missing, f"routes without access rows: {sorted(missing)}"
