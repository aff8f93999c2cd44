"""Facilitators: upcoming sessions, and per session a roster with prework done and attendance marking, the
self check-in box (code and QR code, polled), the meeting-report import (upload, review, save), and a
learner's record (the attendance and completion trail, also as CSV).

A facilitator reaches the sessions they run and those of cohorts they facilitate; a designer reaches all.
Anything else is "not found", so a roster of another cohort does not even confirm that it exists.
"""

from __future__ import annotations

import base64
import binascii

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import access, role_guard
from server.controllers.forms import Form
from server.controllers.requests import is_htmx, now, settings, wants_fragment
from server.errors import UserError
from server.services import (
    attendance,
    attendance_events,
    attendance_import,
    checkin,
    feedback,
    materials,
    meeting_reports,
    session_page,
)
from server.services.board import my_boards


def _is_designer(person: Person) -> bool:
    return person.role == Person.Role.designer.value


async def _check_session(person: Person, session_id: int) -> None:
    if not _is_designer(person) and not await attendance.may_run_session(person.id, session_id):
        raise NotFoundException()


class FacilitatorController(Controller):
    path = "/facilitator"
    opt = access(role_guard(Person.Role.facilitator.value))
    include_in_schema = False

    @get("/")
    async def page(self, request: Request) -> Template:
        me: Person = request.user
        sessions, recent = await attendance.upcoming_and_recent(None if _is_designer(me) else me.id, now=now(request))
        boards = await my_boards(me.id, me.role)
        return Template("facilitator/page.html", context={"sessions": sessions, "boards": boards, "recent": recent})

    @get("/sessions/{session_id:int}")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        me: Person = request.user
        page = request.query_params.get("page", "1")
        found = await session_page.facilitator_session(
            session_id, me.id, designer=_is_designer(me), page=int(page) if page.isdigit() and len(page) < 7 else 1,
            query=request.query_params.get("q", "")[:100])
        if found is None:
            raise NotFoundException()
        panel = await _panel(request, session_id, learners=found.roster.total, window=found.window)
        imported = request.query_params.get("imported", "")
        return Template("facilitator/session.html", context={
            "roster": found.roster, "choices": attendance.ATTENDANCE_CHOICES, "panel": panel,
            "imported": int(imported) if imported.isdigit() else None,
            **await _after_context(session_id, found.materials)})

    @get("/sessions/{session_id:int}/checkin")
    async def checkin_panel(self, request: Request, session_id: FromPath[int]) -> Template:
        """The check-in box alone: the session page polls it (new code, check-ins as they arrive)."""
        await _check_session(request.user, session_id)
        panel = await _panel(request, session_id)
        if panel is None:
            raise NotFoundException()
        return Template("facilitator/_checkin.html", context={"panel": panel})

    @get("/sessions/{session_id:int}/import")
    async def import_page(self, request: Request, session_id: FromPath[int]) -> Template:
        await _check_session(request.user, session_id)
        return await _import_form(request, session_id, None)

    @post("/sessions/{session_id:int}/import")
    async def import_upload(self, request: Request, session_id: FromPath[int]) -> Template:
        """Read the uploaded report and show the review; nothing is saved yet."""
        await _check_session(request.user, session_id)
        form = await request.form()
        upload = next((f for f in form.getall("report", []) if hasattr(f, "read") and getattr(f, "filename", "")),
                      None)
        options = _report_options(request, form)
        try:
            if upload is None:
                raise UserError("Choose the participants report file (CSV) to import.")
            if options["error"]:
                raise UserError(options["error"])
            data = await upload.read(meeting_reports.LARGEST_REPORT + 1)
            filename = upload.filename.rsplit("/", 1)[-1][:200]
            review = await _review(session_id, data, filename, options)
        except UserError as error:
            return await _import_form(request, session_id, str(error), options=options, status_code=400)
        return await _review_page(request, session_id, review, data, filename, options, None)

    @post("/sessions/{session_id:int}/import/confirm")
    async def import_confirm(self, request: Request, session_id: FromPath[int]) -> Response:
        """Save the reviewed statuses in one transaction, or show the review again with the one problem."""
        me: Person = request.user
        await _check_session(me, session_id)
        form = await request.form()
        options = _report_options(request, form)
        filename = str(form.get("filename", "") or "report.csv")[:200]
        try:
            data = base64.b64decode(str(form.get("report", "")), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        try:
            if options["error"]:
                raise UserError(options["error"])
            review = await _review(session_id, data, filename, options)
        except UserError as error:
            return await _import_form(request, session_id, str(error), options=options, status_code=400)
        decisions = [attendance_import.Decision(row, str(form.get(f"learner-{row.index}", "")).strip(),
                                                str(form.get(f"status-{row.index}", "")).strip())
                     for row in review.rows]
        missing = {row.learner_id: str(form.get(f"missing-{row.learner_id}", "")).strip() for row in review.missing}
        try:
            changed = await attendance_import.apply_review(session_id, review, decisions, missing, actor=me.id,
                                                           now=now(request))
        except UserError as error:
            return await _review_page(request, session_id, review, data, filename, options, str(error),
                                      chosen=dict(form), status_code=400)
        return Redirect(f"/facilitator/sessions/{session_id}?imported={changed}", status_code=303)

    @get("/learners/{person_id:int}")
    async def record(self, request: Request, person_id: FromPath[int]) -> Template:
        record = await _record(request, person_id)
        return Template("facilitator/record.html", context={"record": record})

    @get("/learners/{person_id:int}/trail.csv")
    async def record_csv(self, request: Request, person_id: FromPath[int]) -> Response:
        record = await _record(request, person_id)
        return Response(
            attendance_events.events_csv(record.events, record.email),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="trail-{record.person_id}.csv"',
                     "Cache-Control": "no-store"},
        )


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


async def _panel(request: Request, session_id: int, *, learners: int | None = None,
                 window: checkin.Window | None = None) -> checkin.Panel | None:
    config = settings(request)
    return await checkin.panel(session_id, secret=config.secret_key, base_url=config.base_url, now=now(request),
                               learners=learners, window=window)


async def _record(request: Request, person_id: int) -> attendance_events.LearnerRecord:
    me: Person = request.user
    record = await attendance_events.learner_record(person_id, viewer_id=me.id, designer=_is_designer(me))
    if record is None:
        raise NotFoundException()
    return record


def _report_options(request: Request, fields) -> dict:
    """The zone the report's local times are read in (default: the facilitator's) and the date order."""
    form = Form(fields)
    zone = form.zone("timezone") if str(fields.get("timezone", "") or "").strip() else request.user.timezone
    order = form.choice("date_order", meeting_reports.DATE_ORDERS, label="Date order") \
        if fields.get("date_order") else meeting_reports.DATE_ORDERS[0]
    return {"timezone": zone, "date_order": order, "error": next(iter(form.errors.values()), "")}


async def _review(session_id: int, data: bytes, filename: str, options: dict) -> attendance_import.Review:
    report = meeting_reports.parse_report(data, filename=filename, timezone=options["timezone"],
                                          date_order=options["date_order"])
    return await attendance_import.review_report(session_id, report)


async def _import_form(request: Request, session_id: int, error: str | None, *, options: dict | None = None,
                       status_code: int = 200) -> Template:
    roster = await attendance.session_roster(session_id)
    if roster is None:
        raise NotFoundException()
    options = options or {"timezone": request.user.timezone, "date_order": meeting_reports.DATE_ORDERS[0]}
    return Template("facilitator/import.html", status_code=status_code, context={
        "roster": roster, "error": error, "options": options, "date_orders": meeting_reports.DATE_ORDERS})


async def _review_page(request: Request, session_id: int, review, data: bytes, filename: str, options: dict,
                       error: str | None, *, chosen: dict | None = None, status_code: int = 200) -> Template:
    roster = await attendance.session_roster(session_id)
    if roster is None:
        raise NotFoundException()
    return Template("facilitator/import_review.html", status_code=status_code, context={
        "roster": roster, "review": review, "report": base64.b64encode(data).decode(), "filename": filename,
        "options": options, "error": error, "chosen": chosen or {}, "choices": attendance.ATTENDANCE_CHOICES,
        "skip": attendance_import.SKIP})


async def _after_context(session_id: int, found: list | None = None) -> dict:
    """What the session page shows after the session: its materials (read here unless `found`) and its
    feedback results."""
    if found is None:
        found = (await materials.session_materials([session_id])).get(session_id, [])
    return {"materials": found, "kinds": materials.KINDS, "results": await feedback.session_results(session_id),
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
