"""The learner's own schedule: next live session, sessions, modules with mark done / undo, progress.

A learner reaches only modules of cohorts they are a learner in; anything else is "not found" (no hint
whether it exists). Without JavaScript the done/undo forms post and redirect back to the page; with htmx
the same URL returns the module's row plus the progress bar and next-session panel swapped out of band.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import role_guard
from server.controllers.requests import is_htmx, now, settings
from server.services import learning
from server.services.feeds import feed_box


class LearnerController(Controller):
    path = "/learner"
    guards = [role_guard(Person.Role.learner.value)]
    include_in_schema = False

    @get("/")
    async def page(self, request: Request) -> Template:
        me: Person = request.user
        schedule = await learning.learner_schedule(me.id, now=now(request))
        feed = await feed_box(me.id, settings(request), now=now(request))
        return Template("learner/page.html", context={"schedule": schedule, "feed": feed})

    @post("/modules/{module_id:int}/done", status_code=200)
    async def done(self, request: Request, module_id: FromPath[int]) -> Response:
        return await _set_done(request, module_id, True)

    @post("/modules/{module_id:int}/undo", status_code=200)
    async def undo(self, request: Request, module_id: FromPath[int]) -> Response:
        return await _set_done(request, module_id, False)


async def _set_done(request: Request, module_id: int, done: bool) -> Response:
    me: Person = request.user
    at = now(request)
    module = await learning.set_module_done(me.id, module_id, done, now=at)
    if module is None:
        raise NotFoundException()
    if not is_htmx(request):
        return Redirect(f"/learner#module-{module_id}", status_code=303)
    schedule = await learning.learner_schedule(me.id, now=at)
    return Template("learner/_module_changed.html", context={"module": module, "schedule": schedule})
