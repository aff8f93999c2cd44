"""Managers: readiness of their reports for upcoming sessions, completion and attendance rates, CSV export.

Only cohorts holding the manager's reports (Membership.manager = the manager) appear; the queries in
server/services/readiness.py start from those memberships, so nothing else can leak in.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from models.tables import Person
from server.auth import access, role_guard
from server.controllers.requests import now
from server.services import readiness


class ManagerController(Controller):
    path = "/manager"
    opt = access(role_guard(Person.Role.manager.value))
    include_in_schema = False

    @get("/")
    async def page(self, request: Request) -> Template:
        view = await readiness.manager_readiness(request.user.id, now=now(request))
        return Template("manager/page.html", context={"view": view})

    @get("/sessions/{session_id:int}")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        """One upcoming session with every report who is not ready (the page lists them for the next one)."""
        view = await readiness.manager_readiness(request.user.id, now=now(request))
        item = next((i for i in view.sessions if i.session.id == session_id), None)
        if item is None:  # not upcoming, or none of my reports are in it
            raise NotFoundException()
        return Template("manager/session.html", context={"item": item})

    @get("/readiness.csv")
    async def csv(self, request: Request) -> Response:
        view = await readiness.manager_readiness(request.user.id, now=now(request))
        return Response(
            readiness.readiness_csv(view),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="readiness.csv"', "Cache-Control": "no-store"},
        )
