"""Designer: programs — list, create, edit settings, units inline (htmx), and upload of planner files."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from planner.errors import InputError
from planner.loading import PROGRAM_NUMBERS, PURPOSE_LENGTH, UNIT_MINUTES, find_cycle, support_problem
from planner.problem import Mode
from planner.problem import Program as PlannerProgram
from server.auth import access, designer_only
from server.controllers.forms import Form
from server.controllers.requests import is_htmx, now, page_or_fragment
from server.errors import UserError
from server.services import cohorts as cohort_service
from server.services import programs
from server.services.attendance import ATTENDANCE_SETTINGS
from server.services.importing import import_problem
from server.services.notifications import kinds
from server.services.programs import UnitsLocked

MODES = tuple(mode.value for mode in Mode)  # the program file's modes
LABELS = {
    "live_minutes": "Live session length (minutes)",
    "module_max_minutes": "Longest async module (minutes)",
    "weekly_async_minutes": "Async minutes per week",
    "live_sessions_per_week": "Live sessions per week",
    "prework_lead_hours": "Prework due before a session (hours)",
}
# field, label, low, high, default: the limits are the program file's (planner.loading), the defaults the
# planner's, so a program saved here is one the files accept.
SETTINGS = tuple(
    (field, LABELS[field], low, high, getattr(PlannerProgram, field))
    for field, (low, high) in PROGRAM_NUMBERS.items()
)
# ... and the attendance settings (check-in window, late, present share, automatic absences), which only the
# pages use: they are not part of the program file
SETTINGS += ATTENDANCE_SETTINGS
MAX_UPLOAD_BYTES = 1_000_000


async def program_or_404(program_id: int) -> dict:
    row = await programs.program(program_id)
    if row is None:
        raise NotFoundException(f"no program {program_id}")
    return row


def read_support(form: Form) -> str:
    """The optional support contact, checked by the program file's rule."""
    value = form.text("support", required=False, max_length=500, label="Support contact")
    problem = support_problem(value) if value and "support" not in form.errors else None
    if problem:
        form.fail("support", f"Support contact: {problem}.")
    return value
def read_email_settings(form: Form) -> dict:
    """The program's email settings that the form holds (a field left out keeps its value): purpose (the
    loader's limit), reminder hours, a default mode per kind."""
    values = {}
    if "purpose" in form.fields:
        values["purpose"] = form.text("purpose", required=False, max_length=PURPOSE_LENGTH, label="Purpose")
    if "reminder_hours" in form.fields:
        raw = form.text("reminder_hours", required=False, max_length=40, label="Reminders")
        try:
            values["reminder_hours"] = ",".join(str(h) for h in kinds.reminder_hours(raw))
        except ValueError as error:
            form.fail("reminder_hours", f"Reminders: {error}.")
            values["reminder_hours"] = raw
    defaults = {}
    for kind in kinds.KINDS:
        chosen = str(form.fields.get(f"default_{kind.name}", "") or "")
        if chosen and chosen in kind.modes:
            defaults[kind.name] = chosen
        elif chosen:
            form.fail("reminder_hours", f"{kind.label}: choose one of {', '.join(kind.modes)}.")
    if defaults:
        values["notification_defaults"] = defaults
    return values


def email_context(values: dict) -> dict:
    return {"email_kinds": kinds.KINDS,
            "email_defaults": kinds.program_defaults(values.get("notification_defaults"))}


def read_unit(form: Form, units: list[dict], editing: int | None) -> dict:
    """Checked unit fields; prerequisites must be units of this program and must not close a cycle."""
    by_id = {u["id"]: u for u in units}
    values = {
        "title": form.text("title", label="Title"),
        "minutes": form.integer("minutes", *UNIT_MINUTES, label="Minutes"),
        "mode": form.choice("mode", MODES, label="Mode"),
        "requires": [],
    }
    for raw in form.many("requires"):
        if not (raw.isascii() and raw.isdigit()) or int(raw) not in by_id or int(raw) == editing:
            form.fail("requires", f"Unknown prerequisite {raw!r}: choose units of this program.")
            continue
        values["requires"].append(int(raw))
    if editing is not None and "requires" not in form.errors:
        edges = {u["id"]: list(u["requires"]) for u in units}
        edges[editing] = values["requires"]
        cycle = find_cycle(edges)
        if cycle:
            names = " → ".join(by_id[i]["title"] for i in cycle)
            form.fail("requires", f"That would make a cycle: {names}.")
    return values


class ProgramController(Controller):
    path = "/programs"
    opt = access(designer_only)

    @get("/")
    async def index(self) -> Template:
        return Template("designer/programs.html", context=await self._list_context({}, {}))

    async def _list_context(self, values: dict, errors: dict) -> dict:
        return {"programs": await programs.programs(), "values": values, "errors": errors, "settings": SETTINGS,
                **email_context(values)}

    @post("/")
    async def create(self, request: Request) -> Response:
        form = await Form.read(request)
        values = {"name": form.text("name", label="Name"), "slug": form.slug("slug")}
        for field, label, low, high, default in SETTINGS:
            values[field] = form.integer(field, low, high, default=default, label=label)
        values["support"] = read_support(form)
        values.update(read_email_settings(form))
        program_id = await programs.create_program(values) if form.ok else None
        if form.ok and program_id is None:
            form.fail("slug", f"A program with id {values['slug']} exists already.")
        if not form.ok:
            context = await self._list_context(values, form.errors)
            return Template("designer/programs.html", context=context, status_code=400)
        return Redirect(f"/programs/{program_id}", status_code=303)

    @get("/{program_id:int}")
    async def show(self, program_id: FromPath[int]) -> Template:
        return Template("designer/program.html", context=await self._program_context(program_id))

    async def _program_context(self, program_id: FromPath[int], **extra) -> dict:
        program = await program_or_404(program_id)
        cohorts = await programs.cohorts_of(program_id)
        context = {
            "program": program,
            "units": await programs.units_of(program_id),
            "cohorts": cohorts,
            # units_locked's rule (a published cohort locks the units), on the program's cohorts already read
            "locked": cohort_service.any_published(cohorts),
            "settings": SETTINGS,
            "values": {},
            "errors": {},
            "unit_values": {"mode": "either", "requires": []},
            "unit_errors": {},
        }
        context.update(extra)
        context.update(email_context(context["values"] or program))
        return context

    @get("/{program_id:int}/program.toml")
    async def export(self, program_id: FromPath[int]) -> Response:
        """The program as a program file (docs/file-formats.md), downloaded as <id>.toml."""
        program = await program_or_404(program_id)
        return Response(await programs.export_program(program_id), media_type="application/toml; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{program["slug"]}.toml"',
                                 "Cache-Control": "no-store"})

    @post("/{program_id:int}")
    async def update(self, request: Request, program_id: FromPath[int]) -> Response:
        await program_or_404(program_id)
        form = await Form.read(request)
        values = {"name": form.text("name", label="Name")}
        for field, label, low, high, default in SETTINGS:
            values[field] = form.integer(field, low, high, default=default, label=label)
        values["support"] = read_support(form)
        values.update(read_email_settings(form))
        if not form.ok:
            context = await self._program_context(program_id, values=values, errors=form.errors)
            return Template("designer/program.html", context=context, status_code=400)
        await programs.update_program(program_id, values)
        return Redirect(f"/programs/{program_id}", status_code=303)

    @post("/{program_id:int}/units")
    async def add_unit(self, request: Request, program_id: FromPath[int]) -> Response:
        await program_or_404(program_id)
        form = await Form.read(request)
        values = read_unit(form, await programs.units_of(program_id), editing=None)
        if form.ok:
            try:
                await programs.add_unit(program_id, values)
            except UnitsLocked as locked:
                form.fail("title", str(locked))
        context = await self._program_context(
            program_id,
            unit_values=values if not form.ok else {"mode": "either", "requires": []},
            unit_errors=form.errors,
            unit_saved=values["title"] if form.ok else None,
        )
        return page_or_fragment(request, "designer/program.html", "designer/units.html", context,
                                failed=not form.ok)

    @get("/{program_id:int}/units/{unit_id:int}")
    async def edit_unit(self, program_id: FromPath[int], unit_id: FromPath[int]) -> Template:
        context = await self._program_context(program_id)
        unit = next((u for u in context["units"] if u["id"] == unit_id), None)
        if unit is None:
            raise NotFoundException("no such unit")
        context.update(unit=unit, unit_values=unit)
        return Template("designer/unit_edit.html", context=context)

    @post("/{program_id:int}/units/{unit_id:int}")
    async def update_unit(self, request: Request, program_id: FromPath[int], unit_id: FromPath[int]) -> Response:
        await program_or_404(program_id)
        units = await programs.units_of(program_id)
        unit = next((u for u in units if u["id"] == unit_id), None)
        if unit is None:
            raise NotFoundException("no such unit")
        form = await Form.read(request)
        values = read_unit(form, units, editing=unit_id)
        if form.ok:
            try:
                await programs.update_unit(program_id, unit_id, values)
            except UnitsLocked as locked:
                form.fail("title", str(locked))
        if not form.ok:
            context = await self._program_context(program_id, unit=unit, unit_values=values,
                                                  unit_errors=form.errors)
            return Template("designer/unit_edit.html", context=context, status_code=400)
        return Redirect(f"/programs/{program_id}", status_code=303)

    @post("/{program_id:int}/units/{unit_id:int}/delete")
    async def delete_unit(self, request: Request, program_id: FromPath[int], unit_id: FromPath[int]) -> Response:
        await program_or_404(program_id)
        try:
            await programs.delete_unit(program_id, unit_id)
        except UnitsLocked as locked:
            context = await self._program_context(program_id, unit_errors={"title": str(locked)})
            return page_or_fragment(request, "designer/program.html", "designer/units.html", context, failed=True)
        if is_htmx(request):
            return Template("designer/units.html", context=await self._program_context(program_id))
        return Redirect(f"/programs/{program_id}", status_code=303)

    # --- upload of planner files ------------------------------------------------------------------------

    @get("/upload")
    async def upload_page(self) -> Template:
        return Template("designer/upload.html", context={"error": None, "imported": None})

    @post("/upload")
    async def upload(self, request: Request) -> Response:
        from planner.loading import load_problem_from_texts

        form = await request.form()
        try:
            program = await _one_file(form.getall("program", []), "program")
            cohorts = [await _read(f) for f in _files(form.getall("cohorts", []))]
            rosters = dict([await _read(f) for f in _files(form.getall("rosters", []))])
            if not cohorts:
                raise UserError("cohorts: choose at least one cohort TOML file")
            problem = load_problem_from_texts(program, cohorts, rosters)
            imported = await import_problem(problem, now=now(request))
        except (InputError, UserError) as error:
            return Template("designer/upload.html", context={"error": str(error), "imported": None},
                            status_code=400)
        summary = {"program": problem.program.name, "program_id": imported.program_id,
                   "cohorts": [c.name for c in problem.cohorts]}
        return Template("designer/upload.html", context={"error": None, "imported": summary})


def _files(values: list) -> list:
    return [v for v in values if hasattr(v, "read") and getattr(v, "filename", "")]


async def _read(upload) -> tuple[str, bytes]:
    data = await upload.read()
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError(f"{upload.filename}: the file is larger than {MAX_UPLOAD_BYTES // 1000} kB")
    return upload.filename.rsplit("/", 1)[-1], data


async def _one_file(values: list, field: str) -> tuple[str, bytes]:
    files = _files(values)
    if len(files) != 1:
        raise UserError(f"{field}: choose one program TOML file")
    return await _read(files[0])
