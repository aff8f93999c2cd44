"""What-if variants: the same cohorts planned with other parameters, as ordinary planner runs on the job queue.

A variant changes some of: the sections a cohort may split into (1, 2 or 3: the planner's `max_sections`, so
"up to"), the program's weekly async cap, its live-session length, and who facilitates (another person joins,
or replaces one of the cohorts' facilitators). Each variant is one `planner_run` row whose `variant` column
records those parameters and whose `comparison` is the id of the comparison's first run; the worker applies
them to the problem it builds (`apply_variant`), so a variant is solved, cancelled, reaped and published
exactly like any other run. Publishing one adopts its parameters (`adopt_variant`, in the publishing
transaction), so that a later re-plan plans what was published.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.json_value import json_value
from models.tables import Cohort, Membership, Person, PlannerRun, Program
from planner import problem as p
from planner.loading import PROGRAM_NUMBERS
from server.db import write_transaction
from server.errors import UserError
from server.services.planning import planner_person

SECTION_CHOICES = (1, 2, 3)
MOST_VARIANTS = 4
ASYNC_CAP = PROGRAM_NUMBERS["weekly_async_minutes"]  # the program file's limits are the form's (STYLE 14)
LIVE_LENGTH = PROGRAM_NUMBERS["live_minutes"]


@dataclass(frozen=True)
class Variant:
    """What this run changes; None/"" = as the cohorts and program are set."""

    label: str = ""
    sections: int | None = None
    weekly_async_minutes: int | None = None
    live_minutes: int | None = None
    facilitator_in: str = ""  # email of a person who facilitates in this variant
    facilitator_out: str = ""  # email of a cohort facilitator they replace ("" = they join)

    @property
    def changes_nothing(self) -> bool:
        return (self.sections is None and self.weekly_async_minutes is None and self.live_minutes is None
                and not self.facilitator_in)

    @property
    def changes_program(self) -> bool:
        return self.weekly_async_minutes is not None or self.live_minutes is not None

    def words(self, names: dict[str, str] | None = None) -> str:
        """"up to 2 sections · 90-min sessions · Omar Haddad instead of Maya Okafor", or "as set"."""
        names = names or {}
        parts = []
        if self.sections is not None:
            parts.append(f"up to {self.sections} section{'s' if self.sections != 1 else ''}")
        if self.weekly_async_minutes is not None:
            parts.append(f"async cap {self.weekly_async_minutes} min a week")
        if self.live_minutes is not None:
            parts.append(f"{self.live_minutes}-min sessions")
        if self.facilitator_in:
            who = names.get(self.facilitator_in, self.facilitator_in)
            if self.facilitator_out:
                parts.append(f"{who} instead of {names.get(self.facilitator_out, self.facilitator_out)}")
            else:
                parts.append(f"{who} also facilitates")
        return " · ".join(parts) or "as set"

    def to_dict(self) -> dict:
        return {"label": self.label, "sections": self.sections, "weekly_async_minutes": self.weekly_async_minutes,
                "live_minutes": self.live_minutes, "facilitator_in": self.facilitator_in,
                "facilitator_out": self.facilitator_out}


def variant_of(value) -> Variant | None:
    """The run's `variant` column as a Variant; None for a plain run."""
    data = json_value(value, {})
    if not data:
        return None
    return Variant(label=str(data.get("label") or ""), sections=data.get("sections"),
                   weekly_async_minutes=data.get("weekly_async_minutes"), live_minutes=data.get("live_minutes"),
                   facilitator_in=str(data.get("facilitator_in") or ""),
                   facilitator_out=str(data.get("facilitator_out") or ""))


def apply_variant(problem: p.Problem, variant: Variant, joining: p.Person | None) -> p.Problem:
    """The problem with the variant's parameters (pure). `joining` is the Person of `facilitator_in`."""
    program = problem.program
    if variant.weekly_async_minutes is not None:
        program = replace(program, weekly_async_minutes=variant.weekly_async_minutes)
    if variant.live_minutes is not None:
        program = replace(program, live_minutes=variant.live_minutes)
    cohorts = []
    for cohort in problem.cohorts:
        if variant.sections is not None:
            cohort = replace(cohort, max_sections=variant.sections)
        leads = {m.email for m in cohort.facilitators}
        # who replaces someone joins only the cohorts that person facilitates; who joins, joins every cohort
        if joining is not None and (not variant.facilitator_out or variant.facilitator_out in leads):
            members = tuple(m for m in cohort.members
                            if not (m.role is p.Role.FACILITATOR and m.email in (variant.facilitator_out,
                                                                                 joining.email)))
            cohort = replace(cohort, members=members + (p.Member(person=joining, role=p.Role.FACILITATOR),))
        cohorts.append(cohort)
    return replace(problem, program=program, cohorts=tuple(cohorts))


async def apply_to(problem: p.Problem, value) -> p.Problem:
    """The worker's half: the run row's `variant` applied to the problem it built (unchanged for plain runs)."""
    variant = variant_of(value)
    if variant is None:
        return problem
    joining = None
    if variant.facilitator_in:
        row = await Person.select().where(Person.email == variant.facilitator_in).first()
        if row is None:
            raise UserError(f"the variant's facilitator {variant.facilitator_in} no longer exists")
        joining = planner_person(row)
    return apply_variant(problem, variant, joining)


def check_variant(variant: Variant, facilitators: set[str], people: set[str]) -> str | None:
    """One line saying what is wrong with a variant for these cohorts, or None."""
    if variant.sections is not None and variant.sections not in SECTION_CHOICES:
        return "Sections: choose 1, 2 or 3."
    if variant.weekly_async_minutes is not None and not ASYNC_CAP[0] <= variant.weekly_async_minutes <= ASYNC_CAP[1]:
        return f"Weekly async cap must be between {ASYNC_CAP[0]} and {ASYNC_CAP[1]} minutes."
    if variant.live_minutes is not None and not LIVE_LENGTH[0] <= variant.live_minutes <= LIVE_LENGTH[1]:
        return f"Live-session length must be between {LIVE_LENGTH[0]} and {LIVE_LENGTH[1]} minutes."
    if variant.facilitator_out and not variant.facilitator_in:
        return "Choose who facilitates instead."
    if variant.facilitator_in and variant.facilitator_in not in people:
        return f"No person with the email {variant.facilitator_in}."
    if variant.facilitator_out and variant.facilitator_out not in facilitators:
        return f"{variant.facilitator_out} is not a facilitator of these cohorts."
    if variant.facilitator_in and variant.facilitator_in == variant.facilitator_out:
        return "A facilitator cannot replace themselves."
    return None


async def facilitator_choices(cohort_ids: list[int]) -> tuple[list[dict], list[dict]]:
    """(the cohorts' facilitators, every person who could facilitate: facilitator and designer accounts), each
    as {"email", "name", "timezone"} by name."""
    current = await Membership.select(
        Membership.person.email.as_alias("email"), Membership.person.name.as_alias("name"),
        Membership.person.timezone.as_alias("timezone"),
    ).where(Membership.cohort.is_in(cohort_ids or [0]) & (Membership.role == Membership.Role.facilitator))
    unique = {row["email"]: row for row in current}
    candidates = await Person.select(Person.email, Person.name, Person.timezone).where(
        Person.role.is_in([Person.Role.facilitator, Person.Role.designer]) & (Person.active == True)  # noqa: E712
    ).order_by(Person.name)
    return sorted(unique.values(), key=lambda r: r["name"].casefold()), candidates


async def create_comparison(program_id: int, cohort_names: list[str], variants: list[Variant],
                            requested_by: int | None, time_limit: int, *, now) -> tuple[int, list[int]]:
    """One queued run per variant (one transaction); the comparison's id is its first run's id."""
    if not variants:
        raise UserError("add at least one variant to compare")
    async with write_transaction():
        ids = []
        for variant in variants:
            row = PlannerRun(program=program_id, cohort_names=list(cohort_names), requested_by=requested_by,
                             status=PlannerRun.Status.queued, time_limit=int(time_limit), started_at=now,
                             planned_at=now, queued_at=now, variant=variant.to_dict())
            await row.save()
            ids.append(row.id)
        await PlannerRun.update({PlannerRun.comparison: ids[0]}).where(PlannerRun.id.is_in(ids))
    return ids[0], ids


async def comparison_runs(comparison_id: int) -> list[dict]:
    """The runs of a comparison, in the order they were asked for (empty when there is no such comparison)."""
    return await PlannerRun.select().where(PlannerRun.comparison == comparison_id).order_by(PlannerRun.id)


async def check_publishable(run: dict) -> None:
    """One variant of a comparison is published: the others were planned from settings that are no longer the
    cohorts' own once it is adopted, so they are refused (a new comparison starts from the adopted ones)."""
    if run.get("comparison") is None:
        return
    chosen = await PlannerRun.select(PlannerRun.id).where(
        (PlannerRun.comparison == run["comparison"]) & (PlannerRun.id != run["id"])
        & (PlannerRun.status == PlannerRun.Status.published)).first()
    if chosen is not None:
        raise UserError(f"run {chosen['id']} of this comparison is published already; compare variants again "
                        "to choose another")


async def adopt_variant(value, program_id: int, cohort_ids: list[int]) -> None:
    """Make the cohorts' (and their program's) settings those of the variant being published; call inside the
    publishing transaction. A program-wide change is refused while another published cohort of the program,
    outside this run, keeps the old settings."""
    variant = variant_of(value)
    if variant is None or variant.changes_nothing:
        return
    if variant.changes_program:
        others = await Cohort.select(Cohort.name).where(
            (Cohort.program == program_id) & Cohort.id.not_in(cohort_ids or [0])
            & (Cohort.status == Cohort.Status.published))
        if others:
            raise UserError(f"this variant changes the program's settings, which the published cohort "
                            f"{others[0]['name']!r} also uses: compare variants with it included")
        values = {}
        if variant.live_minutes is not None:
            values[Program.live_minutes] = variant.live_minutes
        if variant.weekly_async_minutes is not None:
            values[Program.weekly_async_minutes] = variant.weekly_async_minutes
        await Program.update(values).where(Program.id == program_id)
    if variant.sections is not None:
        await Cohort.update({Cohort.max_sections: variant.sections}).where(Cohort.id.is_in(cohort_ids))
    if variant.facilitator_in:
        person = await Person.select(Person.id, Person.role).where(Person.email == variant.facilitator_in).first()
        if person is None:
            raise UserError(f"the variant's facilitator {variant.facilitator_in} no longer exists")
        out = await _person_id(variant.facilitator_out) if variant.facilitator_out else 0
        for cohort_id in cohort_ids:
            if out:
                removed = await Membership.delete().where(
                    (Membership.cohort == cohort_id) & (Membership.role == Membership.Role.facilitator)
                    & (Membership.person == out)).returning(Membership.id)
                if not removed:  # they replace someone who does not lead this cohort: it keeps its staff
                    continue
            if not await Membership.exists().where((Membership.cohort == cohort_id)
                                                   & (Membership.person == person["id"])):
                await Membership(cohort=cohort_id, person=person["id"], role=Membership.Role.facilitator).save()


async def _person_id(email: str) -> int:
    row = await Person.select(Person.id).where(Person.email == email).first()
    return row["id"] if row else 0
