"""Designer: cohorts — list, create from a program, add members, the roster, facilitators' absences,
published sessions, runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Absence, Cohort, LiveSession, Membership, Person, PlannerRun, Program
from planner.coverage import local_date, local_midnight
from server.auth import designer_only
from server.controllers.forms import Form, page_or_fragment
from server.controllers.profile import DAY_NAMES, format_days
from server.importing import ROLE_RANK, write_transaction

MEMBER_ROLES = tuple(role.value for role in Membership.Role)
LONGEST_ABSENCE_DAYS = 366


async def cohort_or_404(cohort_id: int) -> dict:
    row = await Cohort.select(*Cohort.all_columns(), Cohort.program.name.as_alias("program_name")).where(
        Cohort.id == cohort_id).first()
    if row is None:
        raise NotFoundException(f"no cohort {cohort_id}")
    return row


async def roster_of(cohort_id: int) -> list[dict]:
    """Members with their zone, hours and manager, learners last so staff stand out at the top."""
    rows = await Membership.select(
        Membership.id,
        Membership.role,
        Membership.person.id.as_alias("person_id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
        Membership.person.work_start.as_alias("work_start"),
        Membership.person.work_end.as_alias("work_end"),
        Membership.person.work_days.as_alias("work_days"),
        Membership.manager.name.as_alias("manager_name"),
        Membership.section.key.as_alias("section"),
    ).where(Membership.cohort == cohort_id)
    order = {"facilitator": 0, "manager": 1, "learner": 2}
    return sorted(rows, key=lambda r: (order.get(r["role"], 3), r["name"].lower()))


async def published_sessions(cohort_id: int) -> list[dict]:
    return await LiveSession.select(
        *LiveSession.all_columns(),
        LiveSession.facilitator.name.as_alias("facilitator_name"),
        LiveSession.facilitator.timezone.as_alias("facilitator_zone"),
    ).where(LiveSession.cohort == cohort_id).order_by(LiveSession.starts_at)


async def cohort_facilitators(cohort_id: int) -> list[dict]:
    return await Membership.select(
        Membership.person.id.as_alias("id"),
        Membership.person.name.as_alias("name"),
        Membership.person.email.as_alias("email"),
        Membership.person.timezone.as_alias("timezone"),
    ).where((Membership.cohort == cohort_id) & (Membership.role == Membership.Role.facilitator)).order_by(
        Membership.person.name)


async def upcoming_absences(cohort_id: int, now: datetime) -> list[dict]:
    """Absences of the cohort's facilitators that have not ended yet, soonest first, with the local dates
    they cover in the facilitator's zone."""
    facilitators = await cohort_facilitators(cohort_id)
    if not facilitators:
        return []
    rows = await Absence.select(
        *Absence.all_columns(),
        Absence.person.name.as_alias("name"),
        Absence.person.timezone.as_alias("timezone"),
    ).where(Absence.person.is_in([f["id"] for f in facilitators]) & (Absence.ends_at > now)).order_by(
        Absence.starts_at, Absence.id)
    for row in rows:
        row["first_day"], row["last_day"] = absence_days(row["starts_at"], row["ends_at"], row["timezone"])
    return rows


def absence_days(starts_at: datetime, ends_at: datetime, zone_name: str) -> tuple[date, date]:
    """The first and last local day an absence covers (it ends at the midnight after its last day)."""
    return local_date(starts_at, zone_name), local_date(ends_at - timedelta(microseconds=1), zone_name)


def read_absence(form: Form, facilitators: list[dict]) -> dict:
    """An absence from the form: a facilitator of the cohort, whole local days in THEIR zone, an optional note.
    Away from local midnight of the first day through the end of the last day."""
    values = {
        "person": str(form.fields.get("person", "") or "").strip(),
        "starts_on": form.day("starts_on", label="First day away"),
        "ends_on": form.day("ends_on", label="Last day away"),
        "note": form.text("note", required=False, max_length=200, label="Note"),
    }
    by_id = {str(f["id"]): f for f in facilitators}
    if not values["person"]:
        form.fail("person", "Choose the facilitator who is away.")
    elif values["person"] not in by_id:
        form.fail("person", "Choose one of this cohort's facilitators.")
    first, last = values["starts_on"], values["ends_on"]
    if first and last:
        if last < first:
            form.fail("ends_on", "The last day away cannot be before the first.")
        elif (last - first).days >= LONGEST_ABSENCE_DAYS:
            form.fail("ends_on", f"An absence can last at most {LONGEST_ABSENCE_DAYS} days; record a longer one in parts.")
    if form.ok:
        zone_name = by_id[values["person"]]["timezone"]
        values["starts_at"] = local_midnight(first, zone_name)
        values["ends_at"] = local_midnight(last + timedelta(days=1), zone_name)
    return values


def read_cohort(form: Form, program_ids: list[int]) -> dict:
    values = {
        "name": form.text("name", label="Name"),
        "program": form.integer("program", 1, 2**31, label="Program"),
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
    guards = [designer_only]

    @get("/")
    async def index(self) -> Template:
        return Template("designer/cohorts.html", context=await self._list_context({}, {}))

    async def _list_context(self, values: dict, errors: dict) -> dict:
        cohorts = await Cohort.select(*Cohort.all_columns(), Cohort.program.name.as_alias("program_name")).order_by(
            Cohort.start_date)
        for row in cohorts:
            row["members"] = await Membership.count().where(Membership.cohort == row["id"])
        programs = await Program.select(Program.id, Program.name).order_by(Program.name)
        return {"cohorts": cohorts, "programs": programs, "values": values, "errors": errors}

    @post("/")
    async def create(self, request: Request) -> Response:
        form = await Form.read(request)
        programs = await Program.select(Program.id)
        values = read_cohort(form, [p["id"] for p in programs])
        if form.ok and await Cohort.exists().where(Cohort.name == values["name"]):
            form.fail("name", f"A cohort named {values['name']!r} exists already.")
        if not form.ok:
            return Template("designer/cohorts.html", context=await self._list_context(values, form.errors),
                            status_code=400)
        row = Cohort(**values)
        await row.save()
        return Redirect(f"/cohorts/{row.id}", status_code=303)

    @get("/{cohort_id:int}")
    async def show(self, cohort_id: FromPath[int]) -> Template:
        return Template("designer/cohort.html", context=await self._cohort_context(cohort_id))

    async def _cohort_context(self, cohort_id: FromPath[int], **extra) -> dict:
        cohort = await cohort_or_404(cohort_id)
        runs = await PlannerRun.select().where(PlannerRun.program == cohort["program"]).order_by(
            PlannerRun.id, ascending=False).limit(20)
        runs = [r for r in runs if cohort["name"] in (r["cohort_names"] or [])][:5]
        context = {
            "cohort": cohort,
            "roster": await roster_of(cohort_id),
            "sessions": await published_sessions(cohort_id),
            "runs": runs,
            "cohorts": [cohort],
            "member_values": {"role": "learner", "timezone": "UTC", "work_start": "09:00", "work_end": "17:00",
                              "work_days": list(DAY_NAMES[:5])},
            "member_errors": {},
            "day_names": DAY_NAMES,
            "member_roles": MEMBER_ROLES,
            "facilitators": await cohort_facilitators(cohort_id),
            "absences": await upcoming_absences(cohort_id, datetime.now(UTC)),
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
            manager = await Person.select(Person.id).where(Person.email == values["manager"]).first()
            if manager is None:
                form.fail("manager", f"No person with the email {values['manager']}: add the manager first.")
            else:
                manager_id = manager["id"]
        if form.ok:
            saved = await self._save_member(cohort, values, manager_id, form)
        if not form.ok:
            context = await self._cohort_context(cohort_id, member_values=values, member_errors=form.errors)
            return page_or_fragment(request, "designer/cohort.html", "designer/roster.html", context, failed=True)
        context = await self._cohort_context(cohort_id, member_saved=saved)
        return page_or_fragment(request, "designer/cohort.html", "designer/roster.html", context, failed=False)

    async def _save_member(self, cohort: dict, values: dict, manager_id: FromPath[int] | None, form: Form) -> str:
        async with write_transaction():
            person = await Person.objects().where(Person.email == values["email"]).first()
            if person is None:
                person = Person(email=values["email"], name=values["name"], role=values["role"],
                                timezone=values["timezone"], work_start=values["work_start"],
                                work_end=values["work_end"], work_days=format_days(values["work_days"]))
                await person.save()
            elif ROLE_RANK.get(values["role"], 0) > ROLE_RANK.get(person.role, 0):
                # the person keeps their own profile; their account role is only ever promoted
                await Person.update({Person.role: values["role"]}).where(Person.id == person.id)
            if await Membership.exists().where(
                    (Membership.cohort == cohort["id"]) & (Membership.person == person.id)):
                form.fail("email", f"{values['email']} is already in this cohort.")
                return ""
            await Membership(cohort=cohort["id"], person=person.id, role=values["role"],
                             manager=manager_id).save()
        return person.name

    @post("/{cohort_id:int}/absences")
    async def add_absence(self, request: Request, cohort_id: FromPath[int]) -> Response:
        await cohort_or_404(cohort_id)
        form = await Form.read(request)
        values = read_absence(form, await cohort_facilitators(cohort_id))
        if not form.ok:
            context = await self._cohort_context(cohort_id, absence_values=values, absence_errors=form.errors)
            return page_or_fragment(request, "designer/cohort.html", "designer/absences.html", context, failed=True)
        async with write_transaction():
            await Absence(person=int(values["person"]), starts_at=values["starts_at"], ends_at=values["ends_at"],
                          note=values["note"], created_by=request.user.id).save()
        context = await self._cohort_context(cohort_id, absence_saved=True)
        return page_or_fragment(request, "designer/cohort.html", "designer/absences.html", context, failed=False)

    @post("/{cohort_id:int}/absences/{absence_id:int}/delete")
    async def delete_absence(self, request: Request, cohort_id: FromPath[int], absence_id: FromPath[int]) -> Response:
        await cohort_or_404(cohort_id)
        facilitator_ids = [f["id"] for f in await cohort_facilitators(cohort_id)]
        absence = await Absence.select(Absence.id).where(
            (Absence.id == absence_id) & Absence.person.is_in(facilitator_ids or [0])).first()
        if absence is None:
            raise NotFoundException(f"no absence {absence_id} of a facilitator of this cohort")
        await Absence.delete().where(Absence.id == absence_id)
        if request.headers.get("hx-request") == "true":
            context = await self._cohort_context(cohort_id, absence_deleted=True)
            return Template("designer/absences.html", context=context)
        return Redirect(f"/cohorts/{cohort_id}#absences", status_code=303)
