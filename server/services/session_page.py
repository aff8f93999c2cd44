"""What the facilitator's page of one session reads before its check-in box and feedback results: whether the
viewer may open it, the session, its check-in window and its materials (one statement), and the roster page.

These were four queries (`attendance.may_run_session`, the session, `checkin.window_of`,
`materials.session_materials`); on PostgreSQL each is a round trip of ~0.2 ms. They are one row per unit and
material of the one session, folded back through the services' own row functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.db import fetch, is_row_id
from server.services.attendance import RUNS_COLUMNS, Roster, may_run, roster_of, runs_args
from server.services.checkin import WINDOW_COLUMNS, Window, window_from
from server.services.materials import MATERIAL_COLUMNS, MATERIAL_JOINS, MATERIAL_ORDER, Material, material_of
from server.services.schedule import sessions_of, sessions_sql


@dataclass(frozen=True)
class SessionPage:
    roster: Roster
    window: Window | None
    materials: list[Material]  # oldest first


_SESSION = sessions_sql("s.id = {}", columns=RUNS_COLUMNS + WINDOW_COLUMNS + MATERIAL_COLUMNS,
                        joins=" LEFT JOIN program g ON g.id = c.program" + MATERIAL_JOINS, order=MATERIAL_ORDER)


async def facilitator_session(session_id: int, viewer_id: int, *, designer: bool, page: int | None,
                              query: str) -> SessionPage | None:
    """None when there is no such session, or the viewer is not a designer and neither runs the session nor
    facilitates its cohort (the page then says "not found" either way)."""
    if not is_row_id(session_id):
        return None
    folded = sessions_of(await fetch(_SESSION, *runs_args(viewer_id), session_id))
    if not folded:
        return None
    session, rows = folded[0]
    first = rows[0]
    if not designer and not may_run(first):
        return None
    found: dict[int, Material] = {}
    for row in rows:  # the materials repeat once per unit
        if row["material_id"] is not None and row["material_id"] not in found:
            found[row["material_id"]] = material_of(row)
    return SessionPage(
        roster=await roster_of(session, page=page, query=query),
        window=window_from(first) if first["opens"] is not None else None,
        materials=list(found.values()),
    )
