"""What the plan views draw, loaded once per page in a fixed number of queries whatever the cohort size: a
planner run's plan (or a cohort's published plan), its cohorts as the planner sees them, the people it names
and the titles of the program's units."""

from __future__ import annotations

from dataclasses import dataclass

from models.json_value import json_value
from models.tables import Membership, PlannerRun
from planner import plan as pl
from planner import problem as p
from server.services import cohorts as cohort_service
from server.services.plan_comparison import PlanFigures, plan_figures
from server.services.planning import planner_people, planner_person, program_from_db
from server.services.published_plan import published_plan
from server.services.variants import Variant, variant_of


@dataclass(frozen=True)
class Shown:
    """One cohort of a plan: its row, the planner's Cohort (learners as planned), and its part of the plan."""

    row: dict
    cohort: p.Cohort
    plan: pl.CohortPlan | None


@dataclass(frozen=True)
class Source:
    plan: pl.Plan | None
    program_id: int
    minutes: int  # the live-session length the plan was made for
    cohorts: tuple[Shown, ...]
    people: dict[str, p.Person]
    titles: dict[str, str]

    def shown(self, cohort_id: int | None) -> Shown | None:
        if cohort_id is None:
            return self.cohorts[0] if self.cohorts else None
        return next((c for c in self.cohorts if c.row["id"] == cohort_id), None)

    def zones(self, shown: Shown) -> list[tuple[str, str]]:
        """(zone, who) for every zone of the cohort's people: the zones a grid can switch to."""
        names: dict[str, list[str]] = {}
        emails = [m.email for m in shown.cohort.members]
        if shown.plan is not None:
            emails += [s.facilitator for s in shown.plan.sessions]
        for email in emails:
            person = self.people.get(email)
            if person is not None and person.name not in names.setdefault(person.timezone, []):
                names[person.timezone].append(person.name)
        return sorted(((zone, ", ".join(who)) for zone, who in names.items()), key=lambda z: z[0])


def _titles(program: p.Program) -> dict[str, str]:
    return {unit.id: unit.title for unit in program.units}


def _cohort(row: dict, learners: list[p.Person]) -> p.Cohort:
    return p.Cohort(name=row["name"], start=row["start_date"], weeks=row["weeks"], timezone=row["timezone"],
                    members=tuple(p.Member(person=person) for person in sorted(learners, key=lambda x: x.email)))


async def run_source(run: dict) -> Source | None:
    """The plan a run holds (None when it holds none), its cohorts with the learners it planned for."""
    result = json_value(run["result"], {})
    if "cohorts" not in result:
        return None
    plan = pl.plan_from_dict(result)
    rows = {row["name"]: row for row in await cohort_service.cohorts_named(
        run["program"], json_value(run["cohort_names"], []))}
    emails = {e for c in plan.cohorts for s in c.sections for e in s.learners}
    emails |= {s.facilitator for c in plan.cohorts for s in c.sessions}
    people = await planner_people(emails)
    program = await program_from_db(run["program"])
    variant = variant_of(run.get("variant"))
    minutes = variant.live_minutes if variant and variant.live_minutes else program.live_minutes
    for cp in plan.cohorts:  # the sessions' own length, when the plan has any
        if cp.sessions:
            minutes = int((cp.sessions[0].end - cp.sessions[0].start).total_seconds() // 60)
            break
    shown = []
    for cp in plan.cohorts:
        row = rows.get(cp.name)
        if row is None:  # the cohort was renamed or removed since the run
            continue
        learners = [people[e] for s in cp.sections for e in s.learners if e in people]
        shown.append(Shown(row, _cohort(row, learners), cp))
    return Source(plan, run["program"], minutes, tuple(shown), people, _titles(program))


async def cohort_source(row: dict) -> Source:
    """A cohort's published plan (if any) and its current learners: what the cohort's own views draw."""
    members = await Membership.select(
        Membership.role,
        Membership.person.email.as_alias("email"),
        Membership.person.name.as_alias("name"),
        Membership.person.timezone.as_alias("timezone"),
        Membership.person.work_start.as_alias("work_start"),
        Membership.person.work_end.as_alias("work_end"),
        Membership.person.work_days.as_alias("work_days"),
    ).where(Membership.cohort == row["id"])
    people = {m["email"]: planner_person(m) for m in members}
    learners = [people[m["email"]] for m in members if m["role"] == Membership.Role.learner]
    plan = await published_plan([row["id"]])
    cohort_plan = plan.cohorts[0] if plan and plan.cohorts else None
    if cohort_plan is not None:  # facilitators of published sessions who are no longer members
        people |= await planner_people({s.facilitator for s in cohort_plan.sessions} - set(people))
    program = await program_from_db(row["program"])
    minutes = program.live_minutes
    if cohort_plan is not None and cohort_plan.sessions:
        first = cohort_plan.sessions[0]
        minutes = int((first.end - first.start).total_seconds() // 60)
    return Source(plan, row["program"], minutes, (Shown(row, _cohort(row, learners), cohort_plan),), people,
                  _titles(program))


@dataclass(frozen=True)
class Compared:
    """One variant of a comparison: its run, what it changes (in words), and its figures once it has a plan."""

    run: dict
    variant: Variant
    words: str
    figures: PlanFigures | None
    reasons: tuple[str, ...]


async def comparison(comparison_id: int) -> list[Compared]:
    """The variants of a comparison, in the order they were asked for (empty: no such comparison)."""
    runs = await PlannerRun.select().where(PlannerRun.comparison == comparison_id).order_by(PlannerRun.id)
    found = []
    for run in runs:  # a comparison holds at most variants.MOST_VARIANTS runs: a bounded number of queries
        found.append((run, variant_of(run["variant"]) or Variant(), await run_source(run)))
    swaps = {e for _r, v, _s in found for e in (v.facilitator_in, v.facilitator_out) if e}
    names = {email: person.name for email, person in (await planner_people(swaps)).items()}
    compared = []
    for run, variant, source in found:
        figures = None
        if source is not None and source.plan is not None:
            figures = plan_figures(source.plan, {s.cohort.name: s.cohort for s in source.cohorts}, source.people)
        compared.append(Compared(run=run, variant=variant, words=variant.words(names), figures=figures,
                                 reasons=tuple(json_value(run["result"], {}).get("reasons", []))))
    return compared
