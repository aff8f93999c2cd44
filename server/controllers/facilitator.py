"""Facilitators: upcoming sessions, and per session a roster with prework done and attendance marking.

A facilitator reaches the sessions they run and those of cohorts they facilitate; a designer reaches all.
Anything else is "not found", so a roster of another cohort does not even confirm that it exists.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import role_guard
from server.controllers.requests import is_htmx, now
from server.services import attendance


def _is_designer(person: Person) -> bool:
    return person.role == Person.Role.designer.value


async def _check_session(person: Person, session_id: int) -> None:
    if not _is_designer(person) and not await attendance.may_run_session(person.id, session_id):
        raise NotFoundException()


class FacilitatorController(Controller):
    path = "/facilitator"
    guards = [role_guard(Person.Role.facilitator.value)]
    include_in_schema = False

    @get("/")
    async def page(self, request: Request) -> Template:
        me: Person = request.user
        sessions = await attendance.facilitator_sessions(None if _is_designer(me) else me.id, now=now(request))
        return Template("facilitator/page.html", context={"sessions": sessions})

    @get("/sessions/{session_id:int}")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        await _check_session(request.user, session_id)
        roster = await attendance.session_roster(session_id)
        if roster is None:
            raise NotFoundException()
        return Template("facilitator/session.html", context={"roster": roster, "choices": attendance.ATTENDANCE_CHOICES})

    @post("/sessions/{session_id:int}/attendance/{person_id:int}", status_code=200)
    async def attendance(self, request: Request, session_id: FromPath[int], person_id: FromPath[int]) -> Response:
        me: Person = request.user
        await _check_session(me, session_id)
        status = str((await request.form()).get("status", ""))
        try:
            row = await attendance.mark_attendance(session_id, person_id, status, marked_by=me.id,
                                                   now=now(request))
        except ValueError:
            raise HTTPException(
                status_code=400, detail=f"Choose one of: {', '.join(attendance.ATTENDANCE_CHOICES)}."
            ) from None
        if row is None:
            raise NotFoundException()
        if not is_htmx(request):
            return Redirect(f"/facilitator/sessions/{session_id}#learner-{person_id}", status_code=303)
        roster = await attendance.session_roster(session_id)
        return Template(
            "facilitator/_roster_row.html",
            context={"row": row, "roster": roster, "choices": attendance.ATTENDANCE_CHOICES, "saved": True},
        )
