"""Anyone's own profile: time zone, working hours and working days."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from models.tables import Person
from server.auth import access, signed_in
from server.controllers.forms import check_hours
from server.controllers.profile_page import profile_context
from server.controllers.requests import is_htmx
from server.services.people import DAY_NAMES, set_hours


class ProfileController(Controller):
    path = "/profile"
    opt = access(signed_in)

    @get("/")
    async def page(self, request: Request) -> Template:
        return Template("profile.html", context=await profile_context(request, request.user))

    @post("/", status_code=200)
    async def save(self, request: Request) -> Response:
        me: Person = request.user
        form = await request.form()
        values = {
            "timezone": str(form.get("timezone", "")).strip(),
            "work_start": str(form.get("work_start", "")).strip()[:5],
            "work_end": str(form.get("work_end", "")).strip()[:5],
            "work_days": [d for d in DAY_NAMES if d in form.getall("work_days", [])],
        }
        errors = check_hours(values["timezone"], values["work_start"], values["work_end"], values["work_days"])
        if not errors:
            await set_hours(me.id, **values)
            me.timezone = values["timezone"]
        if is_htmx(request):
            return Template("partials/profile_form.html", context={"values": values, "errors": errors,
                                                                   "saved": not errors})
        context = await profile_context(request, me, values=values, errors=errors, saved=not errors)
        return Template("profile.html", context=context, status_code=400 if errors else 200)
