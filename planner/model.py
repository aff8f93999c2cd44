"""The decision variables of the CP-SAT model, behind a container with query methods.

Per cohort:
- `used(c, s)`: section s runs (section 0 always does when the cohort has learners);
- `count(c, p, s)`: how many learners of profile p sit in section s (learners of one profile are
  interchangeable for every rule and for coverage, so the model never sees 1,500 learner booleans);
- `choice(c, s, k, slot, facilitator)`: session k of section s starts at `slot`, led by `facilitator`
  (one boolean per allowed pair; exactly one is true when the section runs);
- `covered(c, p, s, k)`: learners of profile p in section s for whom session k is inside working hours;
- `due_day(c, m)` and `due_week(c, m, w)`: the program day / week module m falls due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ortools.sat.python import cp_model

from planner.plan import Plan
from planner.problem import Cohort, Problem
from planner.slots import (
    ModuleSpec,
    Packing,
    Profile,
    Slot,
    cohort_slots,
    pack_units,
    profiles,
    slot_at,
    slug,
    span_of,
    split_modules,
    week_ranges,
)


class FixedSessionError(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Choice:
    slot: Slot
    facilitator: str
    var: cp_model.IntVar


@dataclass
class CohortModel:
    """What is known about one cohort before solving, and its variables."""

    index: int
    cohort: Cohort
    slug: str
    packing: Packing
    profiles: tuple[Profile, ...]
    sections: int
    weeks: tuple[tuple[int, int], ...]  # allowed program weeks of session k
    slots: tuple[Slot, ...]
    modules: tuple[ModuleSpec, ...]
    fixed: dict[tuple[int, int], tuple[datetime, str]] = field(default_factory=dict)
    previous: dict[tuple[int, int], tuple[datetime, str]] = field(default_factory=dict)
    previous_sections: dict[str, int] = field(default_factory=dict)  # learner email -> section index
    hint_counts: dict[tuple[int, int], int] = field(default_factory=dict)  # (profile, section) -> learners

    @property
    def name(self) -> str:
        return self.cohort.name

    @property
    def session_count(self) -> int:
        return len(self.packing.sessions)

    def section_id(self, s: int) -> str:
        return f"{self.slug}/{chr(ord('a') + s)}"

    def session_id(self, s: int, k: int) -> str:
        return f"{self.section_id(s)}-s{k + 1:02d}"

    def modules_of(self, unit_id: str) -> tuple[ModuleSpec, ...]:
        return tuple(m for m in self.modules if m.unit == unit_id)

    @property
    def learner_count(self) -> int:
        return sum(p.size for p in self.profiles)


def cohort_models(problem: Problem, narrow: bool | Mapping[str, bool],
                  within: Mapping[str, tuple[tuple[int, int], ...]] | None = None) -> tuple[CohortModel, ...]:
    """What each cohort's model chooses from. `narrow` (for all, or per cohort name) puts every session in its
    spread-rule week; wide allows every week that leaves room for the sessions before and after it. `within`
    narrows a cohort's wide ranges further, per session (a neighbourhood of its current weeks)."""
    result = []
    program = problem.program
    for i, cohort in enumerate(problem.cohorts):
        narrow_here = narrow if isinstance(narrow, bool) else narrow[cohort.name]
        packing = pack_units(program, cohort.weeks)
        cohort_slug = slug(cohort.name)
        learners = len(cohort.learners)
        sections = max(1, min(cohort.max_sections, learners // max(1, cohort.min_section_size)))
        modules = tuple(m for uid in packing.asynchronous for m in split_modules(program, cohort_slug, program.unit(uid)))
        sessions = len(packing.sessions)
        weeks = week_ranges(sessions, cohort.weeks, program.live_sessions_per_week, narrow_here) if sessions else ()
        if within and cohort.name in within and not narrow_here:
            weeks = tuple((max(lo, a), min(hi, b)) for (lo, hi), (a, b) in zip(weeks, within[cohort.name], strict=True))
        cm = CohortModel(i, cohort, cohort_slug, packing, profiles(cohort), sections, weeks,
                         cohort_slots(problem, cohort), modules)
        _attach_previous(problem, cm)
        result.append(cm)
    return tuple(result)


def _attach_previous(problem: Problem, cm: CohortModel) -> None:
    previous: Plan | None = problem.previous
    if previous is None:
        return
    try:
        plan = previous.cohort(cm.name)
    except KeyError:
        return
    ids = {cm.session_id(s, k): (s, k) for s in range(cm.sections) for k in range(cm.session_count)}
    for section in plan.sections:
        for email in section.learners:
            for s in range(cm.sections):
                if cm.section_id(s) == section.id:
                    cm.previous_sections[email] = s
    fixed_ids = {f.session_id for f in problem.fixed if f.cohort == cm.name}
    reasons = []
    for session in plan.sessions:
        where = ids.get(session.id)
        if where is None:
            if session.id in fixed_ids:
                reasons.append(
                    f"fixed session {session.id} of cohort {cm.name!r} no longer exists: the cohort now has "
                    f"{cm.sections} section(s) of {cm.session_count} session(s)"
                )
            continue
        cm.previous[where] = (session.start, session.facilitator)
        if session.id in fixed_ids:
            cm.fixed[where] = (session.start, session.facilitator)
            if tuple(session.units) != cm.packing.sessions[where[1]]:
                taught = ", ".join(f"{p.unit} {p.minutes} min" for p in session.units)
                now = ", ".join(f"{p.unit} {p.minutes} min" for p in cm.packing.sessions[where[1]])
                reasons.append(
                    f"fixed session {session.id} of cohort {cm.name!r} taught {taught}, but the program now "
                    f"puts {now} in that session"
                )
    missing = fixed_ids - {s.id for s in plan.sessions}
    reasons += [f"fixed session {sid} is not in the previous plan of cohort {cm.name!r}" for sid in sorted(missing)]
    if reasons:
        raise FixedSessionError(reasons)


class Vars:
    """The variable container. Rules ask it questions; they never index raw dictionaries themselves."""

    def __init__(self, model: cp_model.CpModel, problem: Problem, cohorts: tuple[CohortModel, ...],
                 taken: Mapping[str, set[int]] | None = None):
        self.model = model
        self.taken = taken or {}  # facilitator -> grid points held by cohorts outside this model
        self.span = span_of(problem.program)
        self.problem = problem
        self.cohorts = cohorts
        self._used: dict[tuple[int, int], cp_model.IntVar] = {}
        self._count: dict[tuple[int, int, int], cp_model.IntVar] = {}
        self._choices: dict[tuple[int, int, int], tuple[Choice, ...]] = {}
        self._covered: dict[tuple[int, int, int, int], cp_model.IntVar] = {}
        self._due_day: dict[tuple[int, int], cp_model.IntVar] = {}
        self._due_week: dict[tuple[int, int, int], cp_model.IntVar] = {}
        self._guards: dict[str, cp_model.IntVar] = {}
        self.guarding = False
        self.origin = min((sl.index for cm in cohorts for sl in cm.slots), default=0)
        for cm in cohorts:
            self._build(cm)

    # ------------------------------------------------------------------ construction
    def _build(self, cm: CohortModel) -> None:
        m, c = self.model, cm.index
        for s in range(cm.sections):
            self._used[c, s] = m.new_bool_var(f"section_used[{cm.section_id(s)}]")
            for p in cm.profiles:
                self._count[c, p.key, s] = m.new_int_var(0, p.size, f"learners[{cm.section_id(s)}|profile {p.key}]")
            for k in range(cm.session_count):
                self._choices[c, s, k] = self._session_choices(cm, s, k)
                for p in cm.profiles:
                    if any(p.inside(ch.slot) for ch in self._choices[c, s, k]):
                        self._covered[c, p.key, s, k] = m.new_int_var(
                            0, p.size, f"covered[{cm.session_id(s, k)}|profile {p.key}]"
                        )
        for i, spec in enumerate(cm.modules):
            days = 7 * cm.cohort.weeks
            self._due_day[c, i] = m.new_int_var(0, days - 1, f"due_day[{spec.id}]")
            for w in range(1, cm.cohort.weeks + 1):
                self._due_week[c, i, w] = m.new_bool_var(f"due_in_week[{spec.id}|week {w}]")

    def _session_choices(self, cm: CohortModel, s: int, k: int) -> tuple[Choice, ...]:
        sid = cm.session_id(s, k)
        if (s, k) in cm.fixed:
            start, facilitator = cm.fixed[s, k]
            slot = slot_at(self.problem, cm.cohort, start, facilitator)
            return (Choice(slot, facilitator, self.model.new_bool_var(f"starts[{sid}|{start:%Y-%m-%dT%H:%MZ}|{facilitator}]")),)
        lo, hi = cm.weeks[k]
        out = []
        for slot in cm.slots:
            if lo <= slot.week <= hi:
                for email in slot.facilitators:
                    points = self.taken.get(email)
                    if points and any(slot.index + i in points for i in range(self.span)):
                        continue
                    var = self.model.new_bool_var(f"starts[{sid}|{slot.start:%Y-%m-%dT%H:%MZ}|{email}]")
                    out.append(Choice(slot, email, var))
        return tuple(out)

    # ------------------------------------------------------------------ queries
    def used(self, cm: CohortModel, s: int) -> cp_model.IntVar:
        return self._used[cm.index, s]

    def count(self, cm: CohortModel, profile: Profile, s: int) -> cp_model.IntVar:
        return self._count[cm.index, profile.key, s]

    def choices(self, cm: CohortModel, s: int, k: int) -> tuple[Choice, ...]:
        return self._choices[cm.index, s, k]

    def all_choices(self):
        """(cohort model, section, session, choice) for every choice variable, in a fixed order."""
        for cm in self.cohorts:
            for s in range(cm.sections):
                for k in range(cm.session_count):
                    for ch in self._choices[cm.index, s, k]:
                        yield cm, s, k, ch

    def starts_at(self, cm: CohortModel, s: int, k: int, slot: Slot, facilitator: str | None = None):
        """Sum of the choice booleans that start session k of section s at `slot` (0 or 1)."""
        return sum(
            ch.var for ch in self.choices(cm, s, k) if ch.slot.index == slot.index
            and (facilitator is None or ch.facilitator == facilitator)
        )

    def led_by(self, cm: CohortModel, s: int, k: int, facilitator: str) -> cp_model.LinearExpr:
        """1 when `facilitator` leads session k of section s, else 0."""
        return sum(ch.var for ch in self.choices(cm, s, k) if ch.facilitator == facilitator)

    def slot_value(self, cm: CohortModel, s: int, k: int, value) -> cp_model.LinearExpr:
        """Linear expression: value(slot) of the chosen slot (0 when the section does not run)."""
        return cp_model.LinearExpr.weighted_sum(
            [ch.var for ch in self.choices(cm, s, k)], [int(value(ch.slot)) for ch in self.choices(cm, s, k)]
        )

    def start_index(self, cm: CohortModel, s: int, k: int) -> cp_model.LinearExpr:
        return self.slot_value(cm, s, k, lambda slot: slot.index - self.origin)

    def covered(self, cm: CohortModel, profile: Profile, s: int, k: int) -> cp_model.IntVar | None:
        return self._covered.get((cm.index, profile.key, s, k))

    def due_day(self, cm: CohortModel, module: int) -> cp_model.IntVar:
        return self._due_day[cm.index, module]

    def due_week(self, cm: CohortModel, module: int, week: int) -> cp_model.IntVar:
        return self._due_week[cm.index, module, week]

    # ------------------------------------------------------------------ explaining infeasibility
    def guard(self, label: str):
        """An enforcement literal for a rule group (only when explaining infeasibility), else None."""
        if not self.guarding:
            return None
        if label not in self._guards:
            self._guards[label] = self.model.new_bool_var(f"rule[{label}]")
        return self._guards[label]

    @property
    def guards(self) -> dict[str, cp_model.IntVar]:
        return self._guards


def enforce(constraint, literal) -> None:
    if literal is not None:
        constraint.only_enforce_if(literal)

