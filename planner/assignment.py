"""One cohort's decisions, whoever made them (the constructive heuristic or the solver), and the plan they make.

A `CohortAssignment` holds exactly what the model decides for a cohort: who sits in which section, where each
session of each running section starts and who leads it, and the program day each module falls due. Everything
else in a `CohortPlan` (ids, ends, releases, prework lists) follows from those, in `to_cohort_plan`, so the
constructive plan and the solver's plan are read out by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.coverage import cohort_window, inside_hours
from planner.model import CohortModel
from planner.plan import CohortPlan, Module, Section, Session
from planner.problem import Person, Program
from planner.slots import Slot, due_instant, prework_of


@dataclass(frozen=True)
class CohortAssignment:
    cohort: str
    sections: tuple[tuple[str, ...], ...]  # learner emails of each running section, section a first
    starts: dict[tuple[int, int], tuple[Slot, str]]  # (section, session) -> (slot, facilitator email)
    due_days: tuple[int, ...]  # program day each module of `CohortModel.modules` falls due

    def points(self, span: int) -> dict[str, set[int]]:
        """Grid points each facilitator is taken by this cohort's sessions (a session covers `span` points)."""
        taken: dict[str, set[int]] = {}
        for slot, email in self.starts.values():
            taken.setdefault(email, set()).update(range(slot.index, slot.index + span))
        return taken


def to_cohort_plan(program: Program, cm: CohortModel, a: CohortAssignment) -> CohortPlan:
    """The cohort's plan: sections, sessions sorted by (start, section), modules sorted by (due, id).

    Modules are released at program start, or when the last session (over all sections) of a live
    prerequisite ends; they fall due at 23:59 home time on their program day."""
    sections, sessions = [], []
    for s, learners in enumerate(a.sections):
        section_id = cm.section_id(s)
        sections.append(Section(section_id, tuple(sorted(learners))))
        for k in range(cm.session_count):
            slot, email = a.starts[s, k]
            sessions.append(Session(
                id=cm.session_id(s, k), section=section_id, start=slot.start, end=slot.end, facilitator=email,
                units=cm.packing.sessions[k], prework=prework_of(program, cm.packing, cm.modules, k),
            ))
    program_start = cohort_window(cm.cohort)[0]
    modules = []
    for spec, day in zip(cm.modules, a.due_days, strict=True):
        release = program_start
        for required in program.unit(spec.unit).requires:
            if required in cm.packing.live:
                k = cm.packing.last_session(required)
                release = max([release] + [a.starts[s, k][0].end for s in range(len(a.sections))])
        modules.append(Module(spec.id, spec.unit, spec.minutes, release, due_instant(cm.cohort, day)))
    return CohortPlan(
        name=cm.name,
        sections=tuple(sections),
        sessions=tuple(sorted(sessions, key=lambda x: (x.start, x.section, x.id))),
        modules=tuple(sorted(modules, key=lambda m: (m.due, m.id))),
    )


def covered_pairs(cm: CohortModel, a: CohortAssignment, people: dict[str, Person]) -> tuple[int, int]:
    """(learner-session pairs, of them inside the learner's working hours) of one cohort's assignment."""
    pairs = covered = 0
    for s, learners in enumerate(a.sections):
        for k in range(cm.session_count):
            slot, _ = a.starts[s, k]
            for email in learners:
                pairs += 1
                covered += inside_hours(people[email], slot.start, slot.end)
    return pairs, covered
