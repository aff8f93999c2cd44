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
from server.controllers.forms import Form
from server.controllers.requests import is_htmx, now, wants_fragment
from server.errors import UserError
from server.services import attendance, feedback, materials
from server.services.board import my_boards


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
        boards = await my_boards(me.id, me.role)
        recent = await materials.recent_sessions(None if _is_designer(me) else me.id, now=now(request))
        return Template("facilitator/page.html", context={"sessions": sessions, "boards": boards, "recent": recent})

    @get("/sessions/{session_id:int}")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        await _check_session(request.user, session_id)
        roster = await attendance.session_roster(session_id)
        if roster is None:
            raise NotFoundException()
        context = {"roster": roster, "choices": attendance.ATTENDANCE_CHOICES, **await _after_context(session_id)}
        return Template("facilitator/session.html", context=context)

    @post("/sessions/{session_id:int}/materials", status_code=200)
    async def add_material(self, request: Request, session_id: FromPath[int]) -> Response:
        """Attach a link (http(s) only) and/or a short text to the session."""
        me: Person = request.user
        await _check_session(me, session_id)
        form = await Form.read(request)
        values = {name: str(form.fields.get(name, "") or "") for name in ("kind", "title", "url", "text")}
        try:
            await materials.add_material(session_id, **values, added_by=me.id, now=now(request))
        except UserError as refused:
            return await _materials_answer(request, session_id, error=str(refused), values=values)
        return await _materials_answer(request, session_id)

    @post("/sessions/{session_id:int}/materials/{material_id:int}/delete", status_code=200)
    async def delete_material(self, request: Request, session_id: FromPath[int], material_id: FromPath[int]) -> Response:
        await _check_session(request.user, session_id)
        if not await materials.delete_material(session_id, material_id):
            raise NotFoundException()
        return await _materials_answer(request, session_id)

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


async def _after_context(session_id: int) -> dict:
    """What the session page shows after the session: its materials and its feedback results."""
    found = await materials.session_materials([session_id])
    return {"materials": found.get(session_id, []), "kinds": materials.KINDS, "results": await feedback.session_results(session_id),
            "min_group": feedback.MIN_GROUP, "material_error": None, "material_values": {}}


async def _materials_answer(request: Request, session_id: int, *, error: str | None = None,
                            values: dict | None = None) -> Response:
    """htmx: the materials region again (with the message); a plain form: back to the page, or 400 with it."""
    if error is None and not wants_fragment(request):
        return Redirect(f"/facilitator/sessions/{session_id}#materials", status_code=303)
    context = {**await _after_context(session_id), "session_id": session_id, "material_error": error,
               "material_values": values or {}}
    if wants_fragment(request):
        return Template("facilitator/_materials.html", context=context)
    roster = await attendance.session_roster(session_id)
    if roster is None:  # a designer naming a session that does not exist
        raise NotFoundException()
    return Template("facilitator/session.html", status_code=400,
                    context={"roster": roster, "choices": attendance.ATTENDANCE_CHOICES, **context})
