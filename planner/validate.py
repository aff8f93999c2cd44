"""Re-check a plan against every hard rule of issue 3, without the solver, and recompute its coverage.

`validate_plan` returns one `Violation` per broken fact, named by rule (see `RULES`); an empty list means the
plan obeys every rule. Working hours, weeks and windows come from `planner.coverage`, the one place that
evaluates them. Readings of the rules where the issue leaves a choice:

- modules belong to a cohort (all sections share them); sessions to one section;
- an `either` unit is live for the cohort when any session has a portion of it, async when it has modules;
- a session lies in the window when `first <= start` and `end <= last`; a module when `first <= release`
  and `due <= last` (intervals inside the half-open window);
- async A before async B: every module of A is due no later than every module of B;
- async A before live B: every module of A is due `prework_lead_hours` before the earliest session (any
  section) covering B; live A before async B: B's modules are released no earlier than the end of the
  last session (any section) covering A;
- `prework` of a session: the modules of the async units that the units it covers directly require;
- the parts of an async unit are its modules whose ids end in `-1`, `-2`, ...; part k is released and
  due no later than part k+1 (ties allowed);
- coverage with no (learner, session) pair at all is 1.0 (nobody is asked to join outside their hours).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from planner.coverage import cohort_window, inside_hours, program_week, touches_blackout
from planner.plan import CohortPlan, Plan, Section, Session
from planner.problem import Cohort, Mode, Problem, Role, is_aware


@dataclass(frozen=True)
class Violation:
    rule: str
    text: str


# Every hard rule, in the order they are checked, with the label a designer reads.
RULES: tuple[tuple[str, str], ...] = (
    ("aware_utc", "All instants are aware and in UTC"),
    ("cohorts", "The plan has one entry per cohort of the run"),
    ("unique_ids", "Section and session ids are unique in the run, module ids within a cohort"),
    ("section_partition", "Every learner is in exactly one section of their cohort"),
    ("section_size", "Every section has at least min_section_size learners"),
    ("max_sections", "A cohort has at most max_sections sections"),
    ("session_section", "Every session belongs to a section of its cohort"),
    ("unknown_unit", "Sessions and modules name units of the program"),
    ("unit_mode", "Async units have no live portions, live units no modules"),
    ("either_mode", "An either unit is wholly async or wholly live"),
    ("live_coverage", "Each section covers every live unit fully"),
    ("async_modules", "Async units are split into modules of at most module_max_minutes summing to the unit"),
    ("session_length", "Sessions last exactly live_minutes; their portions sum to at most that"),
    ("section_overlap", "Sessions of one section do not overlap"),
    ("window", "Sessions and modules lie within the cohort's weeks"),
    ("blackout", "No session touches a blackout date"),
    ("weekly_sessions", "At most live_sessions_per_week sessions per section per program week"),
    ("weekly_async", "At most weekly_async_minutes of async work due per program week"),
    ("module_release", "Every module is released before it is due"),
    ("module_order", "Parts of one async unit are released and fall due in order (part 1 before part 2)"),
    ("prerequisite_async_live", "Prework is due prework_lead_hours before the first session needing it"),
    ("prerequisite_async_async", "Async prerequisites are due no later than the units needing them"),
    ("prerequisite_live_live", "Live prerequisites are taught before the units needing them, in each section"),
    ("prerequisite_live_async", "Async units are released after the live units they need have been taught"),
    ("prework", "A session's prework lists exactly the modules it needs"),
    ("facilitator_member", "Each session is led by a facilitator of its cohort"),
    ("facilitator_hours", "Each session lies inside its facilitator's working hours on a working day"),
    ("facilitator_overlap", "No facilitator is in two overlapping sessions or a busy time"),
    ("fixed_sessions", "Fixed sessions of the previous plan are unchanged"),
    ("coverage", "The plan's coverage figure matches the recomputed one"),
)


def validate_plan(problem: Problem, plan: Plan) -> list[Violation]:
    """Every broken hard rule of `plan` for `problem`, in `RULES` order; [] when the plan obeys them all."""
    naive = [Violation("aware_utc", text) for text in _aware_utc(plan)]
    if naive:
        return naive  # nothing else can be compared safely
    run = _Run(problem, plan)
    violations = []
    for rule, _label in RULES[1:]:
        check: Callable[[_Run], Iterator[str]] = _CHECKS[rule]
        violations.extend(Violation(rule, text) for text in check(run))
    return violations


def recompute_coverage(problem: Problem, plan: Plan) -> float:
    """Share of (learner, session of the learner's section) pairs inside the learner's working hours,
    each evaluated on the session's own date in the learner's zone."""
    inside = total = 0
    for cohort in problem.cohorts:
        cohort_plan = _find_cohort(plan, cohort.name)
        if cohort_plan is None:
            continue
        learners = {m.email: m.person for m in cohort.learners}
        sections = {s.id: s for s in cohort_plan.sections}
        for session in cohort_plan.sessions:
            section = sections.get(session.section)
            for email in section.learners if section else ():
                if email in learners:
                    total += 1
                    inside += inside_hours(learners[email], session.start, session.end)
    return inside / total if total else 1.0


# --- the run, indexed once -----------------------------------------------------------------------------------

@dataclass
class _CohortView:
    cohort: Cohort
    plan: CohortPlan
    live: set[str] = field(default_factory=set)  # unit ids taught live in this cohort (by mode or by choice)
    async_: set[str] = field(default_factory=set)  # unit ids taught as modules in this cohort

    def sections(self) -> dict[str, Section]:
        return {s.id: s for s in self.plan.sections}

    def sessions_of(self, section_id: str) -> list[Session]:
        return sorted((s for s in self.plan.sessions if s.section == section_id), key=lambda s: s.start)

    def sessions_covering(self, unit_id: str) -> list[Session]:
        return [s for s in self.plan.sessions if any(p.unit == unit_id for p in s.units)]

    def modules_of(self, unit_id: str):
        return [m for m in self.plan.modules if m.unit == unit_id]


class _Run:
    def __init__(self, problem: Problem, plan: Plan):
        self.problem, self.plan, self.program = problem, plan, problem.program
        self.units = {u.id: u for u in problem.program.units}
        self.views: list[_CohortView] = []
        for cohort in problem.cohorts:
            cohort_plan = _find_cohort(plan, cohort.name)
            if cohort_plan is None:
                continue
            view = _CohortView(cohort, cohort_plan)
            for unit in problem.program.units:
                portions = any(p.unit == unit.id for s in cohort_plan.sessions for p in s.units)
                modules = any(m.unit == unit.id for m in cohort_plan.modules)
                if unit.mode is Mode.LIVE or (unit.mode is Mode.EITHER and portions and not modules):
                    view.live.add(unit.id)
                if unit.mode is Mode.ASYNC or (unit.mode is Mode.EITHER and modules and not portions):
                    view.async_.add(unit.id)
            self.views.append(view)


def _find_cohort(plan: Plan, name: str) -> CohortPlan | None:
    return next((c for c in plan.cohorts if c.name == name), None)


def _at(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")


# --- one function per rule -----------------------------------------------------------------------------------

def _aware_utc(plan: Plan) -> Iterator[str]:
    for cohort in plan.cohorts:
        for session in cohort.sessions:
            for label, instant in (("start", session.start), ("end", session.end)):
                if not is_aware(instant) or instant.utcoffset() != timedelta(0):
                    yield f"session {session.id}: {label} {instant.isoformat()} is not an aware UTC instant"
        for module in cohort.modules:
            for label, instant in (("release", module.release), ("due", module.due)):
                if not is_aware(instant) or instant.utcoffset() != timedelta(0):
                    yield f"module {module.id}: {label} {instant.isoformat()} is not an aware UTC instant"


def _cohorts(run: _Run) -> Iterator[str]:
    names = Counter(c.name for c in run.plan.cohorts)
    expected = {c.name for c in run.problem.cohorts}
    for cohort in run.problem.cohorts:
        if names[cohort.name] == 0:
            yield f"cohort {cohort.name!r} has no plan"
        elif names[cohort.name] > 1:
            yield f"cohort {cohort.name!r} is planned {names[cohort.name]} times"
    for name in names:
        if name not in expected:
            yield f"the plan has a cohort {name!r} that is not in the run"


def _unique_ids(run: _Run) -> Iterator[str]:
    for kind, ids in (
        ("section", [s.id for c in run.plan.cohorts for s in c.sections]),
        ("session", [s.id for c in run.plan.cohorts for s in c.sessions]),
    ):
        for value, count in sorted(Counter(ids).items()):
            if count > 1:
                yield f"{kind} id {value!r} is used {count} times"
    for cohort in run.plan.cohorts:
        for value, count in sorted(Counter(m.id for m in cohort.modules).items()):
            if count > 1:
                yield f"cohort {cohort.name!r}: module id {value!r} is used {count} times"


def _section_partition(run: _Run) -> Iterator[str]:
    for view in run.views:
        learners = {m.email for m in view.cohort.learners}
        seen = Counter(email for s in view.plan.sections for email in s.learners)
        for email in sorted(learners):
            if seen[email] != 1:
                yield f"cohort {view.cohort.name!r}: learner {email} is in {seen[email]} sections, not 1"
        for email in sorted(set(seen) - learners):
            yield f"cohort {view.cohort.name!r}: {email} is in a section but is not a learner of the cohort"


def _section_size(run: _Run) -> Iterator[str]:
    for view in run.views:
        for section in view.plan.sections:
            if len(section.learners) < view.cohort.min_section_size:
                yield (f"section {section.id} has {len(section.learners)} learners, fewer than "
                       f"min_section_size {view.cohort.min_section_size}")


def _max_sections(run: _Run) -> Iterator[str]:
    for view in run.views:
        if len(view.plan.sections) > view.cohort.max_sections:
            yield (f"cohort {view.cohort.name!r} has {len(view.plan.sections)} sections, more than "
                   f"max_sections {view.cohort.max_sections}")


def _session_section(run: _Run) -> Iterator[str]:
    for view in run.views:
        sections = view.sections()
        for session in view.plan.sessions:
            if session.section not in sections:
                yield f"session {session.id}: section {session.section!r} is not a section of {view.cohort.name!r}"


def _unknown_unit(run: _Run) -> Iterator[str]:
    for view in run.views:
        for session in view.plan.sessions:
            for portion in session.units:
                if portion.unit not in run.units:
                    yield f"session {session.id}: unit {portion.unit!r} is not in the program"
        for module in view.plan.modules:
            if module.unit not in run.units:
                yield f"module {module.id}: unit {module.unit!r} is not in the program"


def _unit_mode(run: _Run) -> Iterator[str]:
    for view in run.views:
        for session in view.plan.sessions:
            for portion in session.units:
                unit = run.units.get(portion.unit)
                if unit is not None and unit.mode is Mode.ASYNC:
                    yield f"session {session.id}: async unit {unit.id!r} is taught live"
        for module in view.plan.modules:
            unit = run.units.get(module.unit)
            if unit is not None and unit.mode is Mode.LIVE:
                yield f"module {module.id}: live unit {unit.id!r} is given as a module"


def _either_mode(run: _Run) -> Iterator[str]:
    for view in run.views:
        for unit in run.program.units:
            if unit.mode is not Mode.EITHER:
                continue
            portions = bool(view.sessions_covering(unit.id))
            modules = bool(view.modules_of(unit.id))
            if portions and modules:
                yield f"cohort {view.cohort.name!r}: either unit {unit.id!r} is partly live and partly async"
            elif not portions and not modules:
                yield f"cohort {view.cohort.name!r}: either unit {unit.id!r} is neither taught live nor given as modules"


def _live_coverage(run: _Run) -> Iterator[str]:
    for view in run.views:
        for section in view.plan.sections:
            taught = Counter()
            for session in view.sessions_of(section.id):
                for portion in session.units:
                    taught[portion.unit] += portion.minutes
            for unit in run.program.units:
                if unit.id in view.live and taught[unit.id] != unit.minutes:
                    yield (f"section {section.id}: live unit {unit.id!r} gets {taught[unit.id]} of its "
                           f"{unit.minutes} minutes")


def _async_modules(run: _Run) -> Iterator[str]:
    limit = run.program.module_max_minutes
    for view in run.views:
        for unit in run.program.units:
            if unit.id not in view.async_:
                continue
            modules = view.modules_of(unit.id)
            total = sum(m.minutes for m in modules)
            if total != unit.minutes:
                yield f"cohort {view.cohort.name!r}: modules of {unit.id!r} sum to {total} minutes, not {unit.minutes}"
            for module in modules:
                if not 1 <= module.minutes <= limit:
                    yield f"module {module.id}: {module.minutes} minutes, outside 1..{limit} (module_max_minutes)"


def _session_length(run: _Run) -> Iterator[str]:
    length = run.program.live_minutes
    for view in run.views:
        for session in view.plan.sessions:
            minutes = (session.end - session.start).total_seconds() / 60
            if minutes != length:
                yield f"session {session.id} lasts {minutes:g} minutes, not live_minutes {length}"
            taught = sum(p.minutes for p in session.units)
            if taught > length:
                yield f"session {session.id}: portions sum to {taught} minutes, more than {length}"
            for portion in session.units:
                if portion.minutes < 1:
                    yield f"session {session.id}: portion of {portion.unit!r} has {portion.minutes} minutes"


def _section_overlap(run: _Run) -> Iterator[str]:
    for view in run.views:
        for section in view.plan.sections:
            sessions = view.sessions_of(section.id)
            for before, after in zip(sessions, sessions[1:], strict=False):
                if after.start < before.end:
                    yield f"section {section.id}: sessions {before.id} and {after.id} overlap"


def _window(run: _Run) -> Iterator[str]:
    for view in run.views:
        first, last = cohort_window(view.cohort)
        span = f"[{_at(first)}, {_at(last)})"
        for session in view.plan.sessions:
            if session.start < first or session.end > last:
                yield f"session {session.id} at {_at(session.start)} is outside the cohort's weeks {span}"
        for module in view.plan.modules:
            if module.release < first or module.due > last:
                yield (f"module {module.id} ({_at(module.release)} to {_at(module.due)}) is outside the "
                       f"cohort's weeks {span}")


def _blackout(run: _Run) -> Iterator[str]:
    for view in run.views:
        for session in view.plan.sessions:
            if touches_blackout(view.cohort, session.start, session.end):
                yield f"session {session.id} at {_at(session.start)} touches a blackout date of {view.cohort.name!r}"


def _weekly_sessions(run: _Run) -> Iterator[str]:
    cap = run.program.live_sessions_per_week
    for view in run.views:
        counts = Counter((s.section, program_week(view.cohort, s.start)) for s in view.plan.sessions)
        for (section, week), count in sorted(counts.items()):
            if count > cap:
                yield f"section {section}: {count} sessions in week {week}, more than live_sessions_per_week {cap}"


def _weekly_async(run: _Run) -> Iterator[str]:
    cap = run.program.weekly_async_minutes
    for view in run.views:
        minutes: Counter[int] = Counter()
        for module in view.plan.modules:
            minutes[program_week(view.cohort, module.due)] += module.minutes
        for week, total in sorted(minutes.items()):
            if total > cap:
                yield (f"cohort {view.cohort.name!r}: {total} async minutes due in week {week}, more than "
                       f"weekly_async_minutes {cap}")


def _module_release(run: _Run) -> Iterator[str]:
    for view in run.views:
        for module in view.plan.modules:
            if not module.release < module.due:
                yield f"module {module.id} is released at {_at(module.release)}, not before its due {_at(module.due)}"


def _part(module_id: str) -> int | None:
    """The part number of a module id ending in `-<k>`, else None."""
    _, dash, number = module_id.rpartition("-")
    return int(number) if dash and number.isdigit() else None


def _module_order(run: _Run) -> Iterator[str]:
    for view in run.views:
        for unit in run.program.units:
            parts = sorted((_part(m.id), m.id, m) for m in view.modules_of(unit.id) if _part(m.id) is not None)
            for (_, _, before), (_, _, after) in zip(parts, parts[1:], strict=False):
                for label in ("due", "release"):
                    if getattr(before, label) > getattr(after, label):
                        yield (f"cohort {view.cohort.name!r}: module {after.id} of {unit.id!r} is {label} "
                               f"{_at(getattr(after, label))}, before the earlier part {before.id} "
                               f"({_at(getattr(before, label))})")


def _prerequisite_pairs(run: _Run, first: set[str], then: set[str]) -> Iterator[tuple[str, str]]:
    """(A, B) for every unit B in `then` that requires a unit A in `first`."""
    for unit in run.program.units:
        if unit.id in then:
            for required in unit.requires:
                if required in first:
                    yield required, unit.id


def _prerequisite_async_live(run: _Run) -> Iterator[str]:
    lead = timedelta(hours=run.program.prework_lead_hours)
    for view in run.views:
        for a, b in _prerequisite_pairs(run, view.async_, view.live):
            sessions = view.sessions_covering(b)
            if not sessions:
                continue
            earliest = min(s.start for s in sessions)
            for module in view.modules_of(a):
                if module.due > earliest - lead:
                    yield (f"cohort {view.cohort.name!r}: module {module.id} of {a!r} is due {_at(module.due)}, "
                           f"less than {run.program.prework_lead_hours} h before the first session of {b!r} "
                           f"at {_at(earliest)}")


def _prerequisite_async_async(run: _Run) -> Iterator[str]:
    for view in run.views:
        for a, b in _prerequisite_pairs(run, view.async_, view.async_):
            modules_a, modules_b = view.modules_of(a), view.modules_of(b)
            if modules_a and modules_b:
                last_a = max(modules_a, key=lambda m: m.due)
                first_b = min(modules_b, key=lambda m: m.due)
                if last_a.due > first_b.due:
                    yield (f"cohort {view.cohort.name!r}: module {last_a.id} of {a!r} is due {_at(last_a.due)}, "
                           f"after module {first_b.id} of {b!r} due {_at(first_b.due)}")


def _prerequisite_live_live(run: _Run) -> Iterator[str]:
    for view in run.views:
        pairs = list(_prerequisite_pairs(run, view.live, view.live))
        for section in view.plan.sections:
            places: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
            for session in view.sessions_of(section.id):
                for index, portion in enumerate(session.units):
                    places[portion.unit].append((session.start, index, session.id))
            for a, b in pairs:
                if places[a] and places[b] and max(places[a]) >= min(places[b]):
                    yield (f"section {section.id}: {a!r} (last taught in session {max(places[a])[2]}) is not "
                           f"before {b!r} (first taught in session {min(places[b])[2]})")


def _prerequisite_live_async(run: _Run) -> Iterator[str]:
    for view in run.views:
        for a, b in _prerequisite_pairs(run, view.live, view.async_):
            sessions = view.sessions_covering(a)
            if not sessions:
                continue
            last_end = max(s.end for s in sessions)
            for module in view.modules_of(b):
                if module.release < last_end:
                    yield (f"cohort {view.cohort.name!r}: module {module.id} of {b!r} is released "
                           f"{_at(module.release)}, before the last session of {a!r} ends at {_at(last_end)}")


def _prework(run: _Run) -> Iterator[str]:
    for view in run.views:
        for session in view.plan.sessions:
            needed = set()
            for portion in session.units:
                unit = run.units.get(portion.unit)
                for required in unit.requires if unit else ():
                    if required in view.async_:
                        needed.update(m.id for m in view.modules_of(required))
            listed = Counter(session.prework)
            missing = sorted(needed - set(listed))
            extra = sorted(set(listed) - needed)
            twice = sorted(m for m, count in listed.items() if count > 1)
            if missing:
                yield f"session {session.id}: prework lacks {', '.join(missing)}"
            if extra:
                yield f"session {session.id}: prework lists {', '.join(extra)}, which it does not need"
            if twice:
                yield f"session {session.id}: prework lists {', '.join(twice)} more than once"


def _facilitator_member(run: _Run) -> Iterator[str]:
    for view in run.views:
        facilitators = {m.email for m in view.cohort.members if m.role is Role.FACILITATOR}
        for session in view.plan.sessions:
            if session.facilitator not in facilitators:
                yield (f"session {session.id}: {session.facilitator} is not a facilitator of "
                       f"{view.cohort.name!r}")


def _facilitator_hours(run: _Run) -> Iterator[str]:
    for view in run.views:
        facilitators = {m.email: m.person for m in view.cohort.facilitators}
        for session in view.plan.sessions:
            person = facilitators.get(session.facilitator)
            if person is not None and not inside_hours(person, session.start, session.end):
                yield (f"session {session.id} at {_at(session.start)} is outside the working hours of "
                       f"{session.facilitator}")


def _facilitator_overlap(run: _Run) -> Iterator[str]:
    by_person: dict[str, list[Session]] = defaultdict(list)
    for view in run.views:
        for session in view.plan.sessions:
            by_person[session.facilitator].append(session)
    for email, sessions in sorted(by_person.items()):
        sessions.sort(key=lambda s: (s.start, s.id))
        for index, session in enumerate(sessions):
            for later in sessions[index + 1:]:
                if later.start >= session.end:
                    break
                yield f"{email} leads sessions {session.id} and {later.id} at overlapping times"
            for busy in run.problem.busy:
                if busy.email == email and busy.start < session.end and session.start < busy.end:
                    reason = f" ({busy.reason})" if busy.reason else ""
                    yield f"{email} leads session {session.id} while busy {_at(busy.start)}-{_at(busy.end)}{reason}"


def _fixed_sessions(run: _Run) -> Iterator[str]:
    previous = run.problem.previous
    if previous is None:
        return
    for fixed in run.problem.fixed:
        before_cohort = _find_cohort(previous, fixed.cohort)
        before = next((s for s in before_cohort.sessions if s.id == fixed.session_id), None) if before_cohort else None
        if before is None:
            continue  # nothing to keep
        now_cohort = _find_cohort(run.plan, fixed.cohort)
        now = next((s for s in now_cohort.sessions if s.id == fixed.session_id), None) if now_cohort else None
        if now is None:
            yield f"fixed session {fixed.session_id} of {fixed.cohort!r} is missing"
            continue
        for label in ("section", "start", "end", "facilitator", "units"):
            if getattr(now, label) != getattr(before, label):
                yield f"fixed session {fixed.session_id} of {fixed.cohort!r} changed its {label}"


def _coverage(run: _Run) -> Iterator[str]:
    recomputed = recompute_coverage(run.problem, run.plan)
    if abs(recomputed - run.plan.coverage) > 1e-6:
        yield f"the plan says coverage {run.plan.coverage:.6f}, recomputed {recomputed:.6f}"


_CHECKS: dict[str, Callable[[_Run], Iterator[str]]] = {
    "cohorts": _cohorts,
    "unique_ids": _unique_ids,
    "section_partition": _section_partition,
    "section_size": _section_size,
    "max_sections": _max_sections,
    "session_section": _session_section,
    "unknown_unit": _unknown_unit,
    "unit_mode": _unit_mode,
    "either_mode": _either_mode,
    "live_coverage": _live_coverage,
    "async_modules": _async_modules,
    "session_length": _session_length,
    "section_overlap": _section_overlap,
    "window": _window,
    "blackout": _blackout,
    "weekly_sessions": _weekly_sessions,
    "weekly_async": _weekly_async,
    "module_release": _module_release,
    "module_order": _module_order,
    "prerequisite_async_live": _prerequisite_async_live,
    "prerequisite_async_async": _prerequisite_async_async,
    "prerequisite_live_live": _prerequisite_live_live,
    "prerequisite_live_async": _prerequisite_live_async,
    "prework": _prework,
    "facilitator_member": _facilitator_member,
    "facilitator_hours": _facilitator_hours,
    "facilitator_overlap": _facilitator_overlap,
    "fixed_sessions": _fixed_sessions,
    "coverage": _coverage,
}
