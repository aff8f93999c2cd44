"""Designer: a cohort's roster over time — one member's page (move to another section, seeing its times in
the learner's zone; transfer to another cohort of the program), and updating the roster from a CSV file after
a preview. Removing a member is on the cohort page (server/controllers/cohorts.py)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.auth import access, designer_only
from server.controllers.forms import Form
from server.controllers.requests import now
from server.db import LARGEST_ID
from server.errors import UserError
from server.services import cohorts, lifecycle, roster_update
from server.services.roster_update import MAX_ROSTER_BYTES

STALE = "The roster changed since the preview"


async def _cohort(cohort_id: int) -> dict:
    row = await cohorts.cohort(cohort_id)
    if row is None:
        raise NotFoundException(f"no cohort {cohort_id}")
    return row


async def _member(cohort_id: int, membership_id: int) -> dict:
    row = await lifecycle.member(cohort_id, membership_id)
    if row is None:
        raise NotFoundException("That person is not a current member of this cohort.")
    return row


class RosterController(Controller):
    path = "/cohorts"
    opt = access(designer_only)

    async def _member_page(self, request: Request, cohort_id: int, membership_id: int, *, status_code: int = 200,
                           **extra) -> Template:
        cohort = await _cohort(cohort_id)
        learner = await _member(cohort_id, membership_id)
        context = {
            "cohort": cohort,
            "member": learner,
            "sections": await lifecycle.section_choices(cohort_id, learner, now=now(request))
            if learner["role"] == "learner" else (),
            "targets": await lifecycle.transfer_targets(cohort_id),
            "errors": {},
            "notice": None,
        }
        context.update(extra)
        return Template("designer/member.html", context=context, status_code=status_code)

    @get("/{cohort_id:int}/members/{membership_id:int}")
    async def member_page(self, request: Request, cohort_id: FromPath[int], membership_id: FromPath[int]) -> Template:
        return await self._member_page(request, cohort_id, membership_id)

    @post("/{cohort_id:int}/members/{membership_id:int}/move")
    async def move(self, request: Request, cohort_id: FromPath[int], membership_id: FromPath[int]) -> Response:
        await _member(cohort_id, membership_id)
        form = await Form.read(request)
        section = form.integer("section", 1, LARGEST_ID, label="Section")
        if not form.ok:
            form.errors = {"section": "Choose the section to move to."}
            return await self._member_page(request, cohort_id, membership_id, status_code=400, errors=form.errors)
        try:
            words = await lifecycle.move_learner(cohort_id, membership_id, section, actor=request.user.id,
                                                 now=now(request))
        except UserError as error:
            return await self._member_page(request, cohort_id, membership_id, status_code=400,
                                           errors={"section": str(error)})
        return await self._member_page(request, cohort_id, membership_id, notice=words + ".")

    @post("/{cohort_id:int}/members/{membership_id:int}/transfer")
    async def transfer(self, request: Request, cohort_id: FromPath[int], membership_id: FromPath[int]) -> Response:
        await _member(cohort_id, membership_id)
        form = await Form.read(request)
        target = lifecycle.parse_target(str(form.fields.get("target", "") or "").strip())
        if target is None or not all(i is None or 1 <= i <= LARGEST_ID for i in target):
            return await self._member_page(request, cohort_id, membership_id, status_code=400,
                                           errors={"target": "Choose the cohort to transfer to."})
        try:
            words = await lifecycle.transfer_member(cohort_id, membership_id, target[0], target[1],
                                                    actor=request.user.id, now=now(request))
        except UserError as error:
            return await self._member_page(request, cohort_id, membership_id, status_code=400,
                                           errors={"target": str(error)})
        cohort = await _cohort(target[0])
        return Template("designer/transferred.html", context={"cohort": cohort, "notice": words + "."})

    # --- roster update from a CSV file ------------------------------------------------------------------------

    @get("/{cohort_id:int}/roster-update")
    async def roster_update_page(self, cohort_id: FromPath[int]) -> Template:
        return Template("designer/roster_update.html",
                        context={"cohort": await _cohort(cohort_id), "update": None, "error": None})

    @post("/{cohort_id:int}/roster-update")
    async def roster_preview(self, request: Request, cohort_id: FromPath[int]) -> Response:
        """Upload a roster CSV: the preview of who is added, changed and removed; nothing is saved yet."""
        cohort = await _cohort(cohort_id)
        try:
            file_name, data = await _uploaded(request)
            update = await roster_update.preview_roster(cohort_id, file_name, data)
        except UserError as error:
            return Template("designer/roster_update.html", status_code=400,
                            context={"cohort": cohort, "update": None, "error": str(error)})
        return Template("designer/roster_update.html", context={
            "cohort": cohort, "update": update, "error": None, "file_name": file_name,
            "csv_text": data.decode("utf-8-sig")})

    @post("/{cohort_id:int}/roster-update/apply")
    async def roster_apply(self, request: Request, cohort_id: FromPath[int]) -> Response:
        """Apply the previewed file in one transaction; 409 when the roster or the file changed since."""
        cohort = await _cohort(cohort_id)
        form = await Form.read(request)
        file_name = form.text("file_name", max_length=200, label="File name") or "roster.csv"
        text = str(form.fields.get("csv", "") or "")
        digest = form.text("digest", max_length=64, label="Preview")
        if not form.ok or not text.strip():
            return Template("designer/roster_update.html", status_code=400, context={
                "cohort": cohort, "update": None, "error": "Upload the roster file and preview it first."})
        try:
            if len(text.encode()) > MAX_ROSTER_BYTES:
                raise UserError(f"{file_name}: the file is larger than {MAX_ROSTER_BYTES // 1000} kB")
            await roster_update.apply_roster(cohort_id, file_name, text.encode(), digest, actor=request.user.id,
                                         now=now(request))
        except UserError as error:
            message = str(error)
            return Template("designer/roster_update.html", status_code=409 if message.startswith(STALE) else 400,
                            context={"cohort": cohort, "update": None, "error": message})
        return Redirect(f"/cohorts/{cohort_id}#roster", status_code=303)


async def _uploaded(request: Request) -> tuple[str, bytes]:
    form = await request.form()
    upload = form.get("roster")
    if upload is None or not hasattr(upload, "read"):
        raise UserError("Choose a roster CSV file (columns email,name,role,timezone,hours,days,manager).")
    data = await upload.read()
    if len(data) > MAX_ROSTER_BYTES:
        raise UserError(f"{upload.filename}: the file is larger than {MAX_ROSTER_BYTES // 1000} kB")
    return (upload.filename or "roster.csv").rsplit("/", 1)[-1], data
