"""Email front doors: a person's preferences per kind of email, the one-click unsubscribe link (RFC 8058),
and the designer's outbox (every message as its recipient sees it, and what failed and why)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from server.auth import access, designer_only, signed_in
from server.controllers.requests import now, page_or_fragment
from server.errors import UserError
from server.services import invitations
from server.services.notifications import kinds, outbox, preferences


class PreferencesController(Controller):
    """GET/POST /preferences: each kind of email immediately, in a daily digest, or off."""

    path = "/preferences"
    opt = access(signed_in)

    @get("/")
    async def page(self, request: Request) -> Template:
        return Template("preferences.html", context=await _preferences(request))

    @post("/", status_code=200)
    async def save(self, request: Request) -> Response:
        form = await request.form()
        chosen = {kind.name: str(form.get(kind.name)) for kind in kinds.KINDS if form.get(kind.name)}
        error = None
        if not chosen:
            error = "Choose how you want each kind of email."
        else:
            try:
                await preferences.set_preferences(request.user.id, chosen, now=now(request))
            except UserError as problem:
                error = str(problem)
        context = await _preferences(request, saved=error is None, error=error)
        return page_or_fragment(request, "preferences.html", "partials/preferences_form.html", context,
                                failed=error is not None)


async def _preferences(request: Request, **extra) -> dict:
    return {"kinds": await preferences.preferences(request.user.id), "saved": False, "error": None, **extra}


class UnsubscribeController(Controller):
    """GET /unsubscribe/<token>: a page with one button (a link scanner's GET changes nothing); POST: the kind
    is off. The POST is also the RFC 8058 one-click target mail providers call, with no cookies or CSRF token:
    the unguessable token is the credential."""

    path = "/unsubscribe"
    include_in_schema = False
    opt = {"exclude_from_csrf": True, "skip_session": True}

    @get("/{token:str}")
    async def page(self, token: FromPath[str]) -> Template:
        target = await preferences.unsubscribe_target(token)
        if target is None:
            raise NotFoundException("no such link")
        return Template("unsubscribe.html", context={"target": target, "token": token, "done": False})

    @post("/{token:str}", status_code=200)
    async def unsubscribe(self, request: Request, token: FromPath[str]) -> Template:
        target = await preferences.unsubscribe(token, now=now(request))
        if target is None:
            raise NotFoundException("no such link")
        return Template("unsubscribe.html", context={"target": target, "token": token, "done": True})


class OutboxController(Controller):
    """GET /outbox: every email by state (the outbox itself when no SMTP server is configured; failures with
    their reasons); GET /outbox/<id>: one message as its recipient sees it."""

    path = "/outbox"
    opt = access(designer_only)

    @get("/")
    async def index(self, request: Request) -> Template:
        state = request.query_params.get("state") or None
        if state is not None and state not in {s.value for s in kinds.State}:
            state = None
        return Template("designer/outbox.html", context=await outbox.outbox(state=state))

    @get("/{notification_id:int}")
    async def show(self, notification_id: FromPath[int]) -> Template:
        message = await outbox.message(notification_id)
        if message is None:
            raise NotFoundException("no such message")
        return Template("designer/message.html", context={"message": message,
                                                          "events": invitations.events_of(message["calendar"])})
