"""What the learner's schedule page shows — modules, sessions, progress, the follow-up after sessions, open
check-in windows, the feed token — read in two statements.

It was nine queries (one per service the page called); on PostgreSQL each is a round trip of ~0.2 ms, more
than the page's own work. Each statement joins what has at most one row per row it extends (my completion, my
attendance, my feedback, the program's settings) or few (a module's prework links, a session's units and
materials), and the rows are folded back here into the same values the services build one query at a time
(`learning.learner_schedule`, `session_followup.learner_followup`, `checkin.open_windows`), through their
own row functions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from models.tables import Membership
from server.db import fetch
from server.services.checkin import WINDOW_COLUMNS, Window, open_at, window_from
from server.services.clock import check_aware
from server.services.feed_tokens import CURRENT_NONCE
from server.services.learning import LearnerSchedule
from server.services.materials import MATERIAL_COLUMNS, MATERIAL_JOINS, MATERIAL_ORDER, Material, material_of
from server.services.schedule import (
    MY_COHORTS,
    MY_SECTIONS,
    module_of,
    module_order,
    progress_of,
    sessions_of,
    sessions_sql,
)
from server.services.session_followup import (
    MINE_COLUMNS,
    MINE_JOINS,
    Followup,
    followup_of,
    mine_args,
    my_feedback_of,
)


@dataclass(frozen=True)
class LearnerPage:
    schedule: LearnerSchedule
    followup: Followup
    checkin_open: list[Window]  # my sessions whose check-in window is open now
    feed_nonce: str | None  # my current feed token's nonce (None: no token yet, or no cohort to read it with)


# My cohorts (a cohort without modules gives one row of NULL module columns), each module with my completion
# and each prework link to a session of my sections (a module needed by two sessions comes twice), and my feed
# token's nonce beside every row (an uncorrelated subquery: computed once). `{}`: the person (nonce), the person
# (completion), the person and the learner role (my sections), the person and the learner role (my cohorts).
_MODULES = (
    "SELECT c.id AS cohort_id, c.name AS cohort_name, g.name AS program_name, g.support,"
    " am.id, am.title, am.minutes, am.release_at, am.due_at, mc.id AS done, sp.session AS prework_of,"
    f" ({CURRENT_NONCE}) AS feed_nonce"
    " FROM cohort c JOIN program g ON g.id = c.program LEFT JOIN async_module am ON am.cohort = c.id"
    " LEFT JOIN module_completion mc ON mc.module = am.id AND mc.person = {}"
    " LEFT JOIN session_prework sp ON sp.module = am.id"
    f" AND sp.session IN (SELECT id FROM live_session WHERE section IN ({MY_SECTIONS}))"
    f" WHERE c.id IN ({MY_COHORTS})"
)

# My sections' sessions with their units, their materials, my attendance if absent, my feedback, and their
# program's check-in settings (`g`).
_SESSIONS = sessions_sql(
    f"s.section IN ({MY_SECTIONS})",
    columns=MATERIAL_COLUMNS + MINE_COLUMNS + WINDOW_COLUMNS,
    joins=" LEFT JOIN program g ON g.id = c.program" + MATERIAL_JOINS + MINE_JOINS,
    order=MATERIAL_ORDER,
)


async def learner_page(person_id: int, *, now: datetime) -> LearnerPage:
    check_aware(now)
    learner = Membership.Role.learner.value
    module_rows = await fetch(_MODULES, person_id, person_id, person_id, learner, person_id, learner)
    session_rows = await fetch(_SESSIONS, *mine_args(person_id), person_id, learner)

    modules_by_id, prework, cohorts = {}, defaultdict(list), {}
    for row in module_rows:
        cohorts.setdefault(row["cohort_id"], row)
        if row["id"] is None:
            continue
        module = modules_by_id.get(row["id"])
        if module is None:
            module = modules_by_id[row["id"]] = module_of(row, now)
        if row["prework_of"] is not None:
            prework[row["prework_of"]].append(module)
    modules = tuple(sorted(modules_by_id.values(), key=module_order))

    sessions, materials, absent, mine, windows = [], {}, set(), {}, []
    needs = {session: tuple(sorted(modules, key=lambda m: (m.due_at, m.id))) for session, modules in prework.items()}
    for session, rows in sessions_of(session_rows, needs):
        first = rows[0]
        sessions.append(session)
        found: dict[int, Material] = {}
        for row in rows:  # a session's materials repeat once per unit
            if row["material_id"] is not None and row["material_id"] not in found:
                found[row["material_id"]] = material_of(row)
        if found:
            materials[session.id] = list(found.values())
        if first["my_status"] is not None:
            absent.add(session.id)
        if first["rated"] is not None:
            mine[session.id] = my_feedback_of(first)
        if first["opens"] is not None:  # a session always has a program; the windows query joined it
            windows.append(window_from(first))

    sessions = tuple(sessions)
    upcoming = [s for s in sessions if not s.cancelled and s.ends_at > now]
    schedule = LearnerSchedule(sessions=sessions, next_session=upcoming[0] if upcoming else None, modules=modules,
                               progress=progress_of(modules))
    my_cohorts = sorted(({"id": r["cohort_id"], "name": r["cohort_name"], "program_name": r["program_name"],
                          "support": r["support"]} for r in cohorts.values()), key=lambda c: (c["name"], c["id"]))
    return LearnerPage(
        schedule=schedule,
        followup=followup_of(sessions, materials, absent, mine, my_cohorts, now=now),
        checkin_open=open_at(windows, now),
        feed_nonce=module_rows[0]["feed_nonce"] if module_rows else None,
    )
