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

from models.tables import Program, Unit
from server.passwords import hash_password
from server.services.planner_runs import create_run

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
    *each_role("POST", "/plans", designer=400),
    *each_role("GET", "/plans/{run}", designer=200),
    *each_role("GET", "/plans/{run}/status", designer=200),
    *each_role("POST", "/plans/{run}/publish", designer=400),  # still queued: nothing to publish
    *each_role("POST", "/plans/{run}/cancel", designer=303),
    *each_role("GET", "/people", designer=200),
    *each_role("POST", "/people", designer=400),
    *each_role("POST", "/people/{lea}/password", designer=400),
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
    *[("GET", "/manager", r, s) for r, s in zip(ROLES, (200, 403, 403, 200, 303), strict=True)],
    *[("GET", "/manager/readiness.csv", r, s) for r, s in zip(ROLES, (200, 403, 403, 200, 303), strict=True)],
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
    ids["run"] = run(create_run(ids["program"], ["Alpha"], ids["designer"], 5, now=datetime.now(UTC)))
    return ids


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_access(world_ids, row):
    method, path, role, expected = row
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
