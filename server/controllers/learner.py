"""The learner's own schedule: next live session, sessions, modules with mark done / undo, progress.

A learner reaches only modules of cohorts they are a learner in; anything else is "not found" (no hint
whether it exists). Without JavaScript the done/undo forms post and redirect back to the page; with htmx
the same URL returns the module's row plus the progress bar and next-session panel swapped out of band.
Self check-in: /learner/checkin takes the code from the facilitator's screen (or from the QR code's URL, which
fills the form in and, with htmx, sends it at once).
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import access, role_guard
from server.controllers.forms import Form
from server.controllers.requests import is_htmx, now, page_or_fragment, settings, wants_fragment
from server.errors import UserError
from server.services import checkin, feedback, learning, materials
from server.services.feeds import feed_box
from server.services.learner_page import learner_page
from server.services.session_followup import learner_followup


class LearnerController(Controller):
    path = "/learner"
    opt = access(role_guard(Person.Role.learner.value))
    include_in_schema = False

    @get("/")
    async def page(self, request: Request) -> Template:
        me: Person = request.user
        page = await learner_page(me.id, now=now(request))
        feed = await feed_box(me.id, settings(request), now=now(request), alarms=me.feed_alarms, nonce=page.feed_nonce)
        return Template("learner/page.html", context={"schedule": page.schedule, "feed": feed,
                                                      "checkin_open": page.checkin_open, "followup": page.followup,
                                                      "ratings": feedback.RATINGS})

    @get("/checkin")
    async def checkin_page(self, request: Request) -> Template:
        session = request.query_params.get("session", "")
        code = request.query_params.get("code", "")[:20]
        return Template("learner/checkin.html", context={
            "session": session if session.isdigit() else "", "code": code, "auto": bool(session and code),
            "result": None, "error": None})

    @post("/checkin", status_code=200)
    async def checkin(self, request: Request) -> Template:
        me: Person = request.user
        form = await request.form()
        session = str(form.get("session", "") or "").strip()
        code = str(form.get("code", "") or "")[:20]
        context = {"session": session if session.isdigit() else "", "code": code, "auto": False,
                   "result": None, "error": None}
        try:
            context["result"] = await checkin.check_in(
                me.id, code, session_id=int(session) if session.isdigit() else None,
                secret=settings(request).secret_key, now=now(request), timezone=me.timezone)
        except UserError as error:
            context["error"] = str(error)
        return page_or_fragment(request, "learner/checkin.html", "learner/_checkin_form.html", context,
                                failed=context["error"] is not None)


    @get("/sessions/{session_id:int}")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        """One of my sessions: when, its materials, my feedback."""
        return Template("learner/session.html", context=await _session_context(request, session_id))

    @post("/sessions/{session_id:int}/feedback", status_code=200)
    async def feedback(self, request: Request, session_id: FromPath[int]) -> Response:
        """A rating (1-5) and an optional comment; again, it replaces the earlier one."""
        me: Person = request.user
        form = await Form.read(request)
        raw = form.text("rating", max_length=2, label="Rating")
        comment = form.text("comment", required=False, max_length=feedback.COMMENT_LENGTH, label="Comment")
        error = None
        try:
            if not form.ok:
                raise UserError(next(iter(form.errors.values())))
            rating = int(raw) if raw.isascii() and raw.isdigit() else 0
            saved = await feedback.give_feedback(me.id, session_id, rating, comment, now=now(request))
            if saved is None:
                raise NotFoundException()
        except UserError as refused:
            if not await materials.learner_sees_session(me.id, session_id):
                raise NotFoundException() from None
            error = str(refused)
        if wants_fragment(request):
            context = await _session_context(request, session_id)
            return Template("learner/_feedback.html", context={**context, "error": error, "saved": error is None,
                                                                "compact": form.fields.get("compact") == "1"})
        if error is not None:
            if form.fields.get("compact") == "1":
                raise HTTPException(status_code=400, detail=error)
            context = await _session_context(request, session_id)
            return Template("learner/session.html", context={**context, "error": error}, status_code=400)
        back = (f"/learner/sessions/{session_id}" if form.fields.get("compact") != "1"
                else f"/learner#session-{session_id}")
        return Redirect(back, status_code=303)

    @post("/modules/{module_id:int}/done", status_code=200)
    async def done(self, request: Request, module_id: FromPath[int]) -> Response:
        return await _set_done(request, module_id, True)

    @post("/modules/{module_id:int}/undo", status_code=200)
    async def undo(self, request: Request, module_id: FromPath[int]) -> Response:
        return await _set_done(request, module_id, False)


async def _session_context(request: Request, session_id: int) -> dict:
    me: Person = request.user
    if not await materials.learner_sees_session(me.id, session_id):
        raise NotFoundException()
    schedule = await learning.learner_schedule(me.id, now=now(request))
    session = next((s for s in schedule.sessions if s.id == session_id), None)
    if session is None:
        raise NotFoundException()
    followup = await learner_followup(me.id, (session,), now=now(request))
    return {"s": session, "followup": followup, "ratings": feedback.RATINGS, "error": None, "saved": False}


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
