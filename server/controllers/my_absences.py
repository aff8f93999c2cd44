"""A facilitator's own absences, on their profile: record the days they are away (in their own zone), delete
one. Designers see the same on each cohort page; re-plans keep sessions out of these times."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import access, role_guard
from server.controllers.forms import Form, read_days_away
from server.controllers.profile_page import away_region, profile_context
from server.controllers.requests import is_htmx
from server.services import absences


class MyAbsenceController(Controller):
    path = "/profile/absences"
    opt = access(role_guard(Person.Role.facilitator.value))

    @post("/", status_code=200)
    async def add(self, request: Request) -> Response:
        me: Person = request.user
        form = await Form.read(request)
        values = read_days_away(form)
        if form.ok:
            await absences.record(me.id, me.timezone, values["starts_on"], values["ends_on"], values["note"],
                                  created_by=me.id)
        return await _answer(request, me, values=values, errors=form.errors, saved=form.ok)

    @post("/{absence_id:int}/delete", status_code=200)
    async def delete(self, request: Request, absence_id: FromPath[int]) -> Response:
        if not await absences.delete_of(absence_id, [request.user.id]):
            raise NotFoundException(f"you have no absence {absence_id}")
        return await _answer(request, request.user, deleted=True)


async def _answer(request: Request, me: Person, *, errors: dict | None = None, **extra) -> Response:
    """htmx gets the region (200, messages inside); a plain post goes back to the profile, or gets the whole
    profile page with the messages (400)."""
    away = await away_region(request, me, errors=errors or {}, **extra)
    if is_htmx(request):
        return Template("partials/my_absences.html", context={"away": away})
    if not errors:
        return Redirect("/profile#away", status_code=303)
    return Template("profile.html", status_code=400, context=await profile_context(request, me, away=away))
