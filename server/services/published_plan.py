"""Rows -> `Plan`: the published plan of some cohorts, rebuilt from their sessions, modules and sections."""

from __future__ import annotations

from collections import defaultdict

from models.tables import AsyncModule, Cohort, LiveSession, Membership, Section, SessionPrework, SessionUnit
from planner import plan as pl


async def published_plan(cohort_ids: list[int]) -> pl.Plan | None:
    """The published plan of these cohorts, rebuilt from rows (scheduled sessions only), or None when none
    of them is published. Solver figures are not stored with the rows: status is feasible, objective 0."""
    rows = await Cohort.select().where(
        Cohort.id.is_in(list(cohort_ids) or [0]) & (Cohort.status == Cohort.Status.published)
    ).order_by(Cohort.name)
    if not rows:
        return None
    return pl.Plan(
        status=pl.Status.FEASIBLE,
        objective=0,
        bound=0,
        coverage=0.0,
        cohorts=tuple([await _cohort_plan(row) for row in rows]),
    )


async def _cohort_plan(cohort: dict) -> pl.CohortPlan:
    cohort_id = cohort["id"]
    sections = await Section.select().where(Section.cohort == cohort_id).order_by(Section.key)
    learners: dict[int, list[str]] = defaultdict(list)
    for m in await Membership.select(Membership.section, Membership.person.email.as_alias("email")).where(
        (Membership.cohort == cohort_id) & (Membership.role == Membership.Role.learner) & Membership.left_at.is_null()
    ):
        if m["section"] is not None:
            learners[m["section"]].append(m["email"])
    section_key = {s["id"]: s["key"] for s in sections}

    modules = await AsyncModule.select(
        AsyncModule.id, AsyncModule.key, AsyncModule.minutes, AsyncModule.release_at, AsyncModule.due_at,
        AsyncModule.unit.slug.as_alias("unit_slug"),
    ).where(AsyncModule.cohort == cohort_id)
    module_key = {m["id"]: m["key"] for m in modules}

    sessions = await LiveSession.select(
        LiveSession.id, LiveSession.key, LiveSession.section, LiveSession.starts_at, LiveSession.ends_at,
        LiveSession.facilitator.email.as_alias("facilitator_email"),
    ).where((LiveSession.cohort == cohort_id) & (LiveSession.status == LiveSession.Status.scheduled))
    session_ids = [s["id"] for s in sessions] or [0]
    portions: dict[int, list[pl.Portion]] = defaultdict(list)
    for su in await SessionUnit.select(
        SessionUnit.session, SessionUnit.minutes, SessionUnit.unit.slug.as_alias("unit_slug")
    ).where(SessionUnit.session.is_in(session_ids)).order_by(SessionUnit.session, SessionUnit.position):
        portions[su["session"]].append(pl.Portion(su["unit_slug"], su["minutes"]))
    prework: dict[int, list[str]] = defaultdict(list)
    for sp in await SessionPrework.select().where(SessionPrework.session.is_in(session_ids)):
        prework[sp["session"]].append(module_key[sp["module"]])

    used_sections = {s["section"] for s in sessions} | set(learners)
    return pl.CohortPlan(
        name=cohort["name"],
        sections=tuple(
            pl.Section(s["key"], tuple(sorted(learners[s["id"]]))) for s in sections if s["id"] in used_sections
        ),
        sessions=tuple(
            sorted(
                (
                    pl.Session(
                        id=s["key"],
                        section=section_key[s["section"]],
                        start=s["starts_at"],
                        end=s["ends_at"],
                        facilitator=s["facilitator_email"],
                        units=tuple(portions[s["id"]]),
                        prework=tuple(sorted(prework[s["id"]])),
                    )
                    for s in sessions
                ),
                key=lambda s: (s.start, s.section),
            )
        ),
        modules=tuple(
            sorted(
                (pl.Module(m["key"], m["unit_slug"], m["minutes"], m["release_at"], m["due_at"]) for m in modules),
                key=lambda m: (m.due, m.id),
            )
        ),
    )

