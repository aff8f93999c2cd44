"""Designer: cohorts — list, create from a program, add members, the roster, facilitators' absences,
published sessions, runs."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.auth import access, designer_only
from server.controllers.forms import Form, read_days_away
from server.controllers.requests import is_htmx, now, page_or_fragment
from server.db import LARGEST_ID
from server.errors import UserError
from server.services import absences, cohorts, lifecycle, people, programs, roster_changes
from server.services.cohorts import MEMBER_ROLES
from server.services.people import DAY_NAMES


async def cohort_or_404(cohort_id: int) -> dict:
    row = await cohorts.cohort(cohort_id)
    if row is None:
        raise NotFoundException(f"no cohort {cohort_id}")
    return row


def read_absence(form: Form, facilitators: list[dict]) -> dict:
    """An absence from the form: one of the cohort's facilitators, whole days in THEIR zone, an optional note."""
    values = {"person": str(form.fields.get("person", "") or "").strip(), **read_days_away(form)}
    if not values["person"]:
        form.fail("person", "Choose the facilitator who is away.")
    elif values["person"] not in {str(f["id"]) for f in facilitators}:
        form.fail("person", "Choose one of this cohort's facilitators.")
    return values


def read_cohort(form: Form, program_ids: list[int]) -> dict:
    values = {
        "name": form.text("name", label="Name"),
        "program": form.integer("program", 1, LARGEST_ID, label="Program"),
        "start_date": form.day("start_date", label="Start date"),
        "weeks": form.integer("weeks", 1, 52, label="Weeks"),
        "timezone": form.zone("timezone"),
        "max_sections": form.integer("max_sections", 1, 20, default=1, label="Sections at most"),
        "min_section_size": form.integer("min_section_size", 1, 500, default=1, label="Smallest section"),
        "blackout": [],
    }
    if "program" not in form.errors and values["program"] not in program_ids:
        form.fail("program", "Choose one of the programs.")
    for raw in str(form.fields.get("blackout", "") or "").replace(",", " ").split():
        from datetime import date

        try:
            values["blackout"].append(date.fromisoformat(raw).isoformat())
        except ValueError:
            form.fail("blackout", f"{raw!r} is not a date like 2027-03-26.")
    return values


class CohortController(Controller):
    path = "/cohorts"
    opt = access(designer_only)

    @get("/")
    async def index(self) -> Template:
        return Template("designer/cohorts.html", context=await self._list_context({}, {}))

    async def _list_context(self, values: dict, errors: dict) -> dict:
        return {"cohorts": await cohorts.cohorts(), "programs": await programs.choices(), "values": values,
                "errors": errors}

    @post("/")
    async def create(self, request: Request) -> Response:
        form = await Form.read(request)
        values = read_cohort(form, [p["id"] for p in await programs.choices()])
        cohort_id = await cohorts.create_cohort(values) if form.ok else None
        if form.ok and cohort_id is None:
            form.fail("name", f"A cohort named {values['name']!r} exists already.")
        if not form.ok:
            return Template("designer/cohorts.html", context=await self._list_context(values, form.errors),
                            status_code=400)
        return Redirect(f"/cohorts/{cohort_id}", status_code=303)

    @get("/{cohort_id:int}")
    async def show(self, request: Request, cohort_id: FromPath[int]) -> Template:
        page = request.query_params.get("page", "1")
        return Template("designer/cohort.html", context=await self._cohort_context(
            request, cohort_id, page=int(page) if page.isdigit() and len(page) < 7 else 1,
            query=request.query_params.get("q", "")))

    async def _cohort_context(self, request: Request, cohort_id: int, *, page: int = 1, query: str = "",
                              **extra) -> dict:
        head = await cohorts.cohort_with_staff(cohort_id, now(request))
        if head is None:
            raise NotFoundException(f"no cohort {cohort_id}")
        cohort = head.cohort
        members = await cohorts.members_page(cohort_id, page, query)
        context = {
            "cohort": cohort,
            "roster": members.rows,
            "members": members,
            "sessions": await cohorts.published_sessions(cohort_id),
            "runs": await cohorts.recent_runs(cohort),
            "cohorts": [cohort],
            "member_values": {"role": "learner", "timezone": "UTC", "work_start": "09:00", "work_end": "17:00",
                              "work_days": list(DAY_NAMES[:5])},
            "member_errors": {},
            "day_names": DAY_NAMES,
            "member_roles": MEMBER_ROLES,
            "facilitators": head.facilitators,
            "absences": head.absences,
            "former": await lifecycle.former_members(cohort_id),
            "changes": await roster_changes.of_cohort(cohort_id, limit=20),
            "absence_values": {},
            "absence_errors": {},
        }
        context.update(extra)
        return context

    @post("/{cohort_id:int}/members")
    async def add_member(self, request: Request, cohort_id: FromPath[int]) -> Response:
        cohort = await cohort_or_404(cohort_id)
        form = await Form.read(request)
        values = {
            "email": form.email(),
            "name": form.text("name", label="Name"),
            "role": form.choice("role", MEMBER_ROLES, label="Role"),
            "timezone": form.zone(),
            "work_start": form.clock("work_start", "09:00"),
            "work_end": form.clock("work_end", "17:00"),
            "work_days": [d for d in DAY_NAMES if d in form.many("work_days")],
            "manager": form.text("manager", required=False, max_length=254).lower(),
        }
        if "work_start" not in form.errors and "work_end" not in form.errors and \
                values["work_start"] >= values["work_end"]:
            form.fail("work_end", "The day must end after it starts.")
        if not values["work_days"]:
            form.fail("work_days", "Choose at least one working day.")
        manager_id = None
        if values["manager"]:
            manager_id = await people.person_id(values["manager"])
            if manager_id is None:
                form.fail("manager", f"No person with the email {values['manager']}: add the manager first.")
        if form.ok:
            saved = await cohorts.add_member(cohort["id"], values, manager_id, actor=request.user.id, now=now(request))
            if saved is None:
                form.fail("email", f"{values['email']} is already in this cohort.")
        if not form.ok:
            context = await self._cohort_context(request, cohort_id, member_values=values, member_errors=form.errors)
            return page_or_fragment(request, "designer/cohort.html", "designer/roster.html", context, failed=True)
        context = await self._cohort_context(request, cohort_id, member_saved=saved)
        return page_or_fragment(request, "designer/cohort.html", "designer/roster.html", context, failed=False)

    @post("/{cohort_id:int}/absences")
    async def add_absence(self, request: Request, cohort_id: FromPath[int]) -> Response:
        await cohort_or_404(cohort_id)
        form = await Form.read(request)
        facilitators = await cohorts.facilitators(cohort_id)
        values = read_absence(form, facilitators)
        if not form.ok:
            context = await self._cohort_context(request, cohort_id, absence_values=values, absence_errors=form.errors)
            return page_or_fragment(request, "designer/cohort.html", "designer/absences.html", context, failed=True)
        person = next(f for f in facilitators if str(f["id"]) == values["person"])
        await absences.record(person["id"], person["timezone"], values["starts_on"], values["ends_on"],
                              values["note"], created_by=request.user.id)
        context = await self._cohort_context(request, cohort_id, absence_saved=True)
        return page_or_fragment(request, "designer/cohort.html", "designer/absences.html", context, failed=False)

    @post("/{cohort_id:int}/absences/{absence_id:int}/delete")
    async def delete_absence(self, request: Request, cohort_id: FromPath[int], absence_id: FromPath[int]) -> Response:
        await cohort_or_404(cohort_id)
        if not await absences.delete_of(absence_id, [f["id"] for f in await cohorts.facilitators(cohort_id)]):
            raise NotFoundException(f"no absence {absence_id} of a facilitator of this cohort")
        if is_htmx(request):
            context = await self._cohort_context(request, cohort_id, absence_deleted=True)
            return Template("designer/absences.html", context=context)
        return Redirect(f"/cohorts/{cohort_id}#absences", status_code=303)

    @post("/{cohort_id:int}/members/{membership_id:int}/remove")
    async def remove_member(self, request: Request, cohort_id: FromPath[int], membership_id: FromPath[int]) -> Response:
        """The member leaves the cohort; their history stays ("left on …")."""
        await cohort_or_404(cohort_id)
        if await lifecycle.member(cohort_id, membership_id) is None:
            raise NotFoundException("That person is not a current member of this cohort.")
        form = await Form.read(request)
        reason = form.text("reason", required=False, max_length=200, label="Reason")
        try:
            name = await lifecycle.remove_member(cohort_id, membership_id, actor=request.user.id, now=now(request),
                                                 reason=reason) if form.ok else None
        except UserError as error:
            form.fail("remove", str(error))
            name = None
        context = await self._cohort_context(request, cohort_id, member_removed=name, remove_errors=form.errors)
        return page_or_fragment(request, "designer/cohort.html", "designer/roster.html", context, failed=not form.ok)
