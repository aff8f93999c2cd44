"""What the planner returns: sections, live sessions and async modules per cohort, with solver figures.

All instants are aware datetimes in UTC. `plan_to_json` is the `cadence plan --json` contract; it must be
byte-for-byte deterministic for the same input and options (no wall times, sorted, stable ids).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    OPTIMAL = "optimal"  # proven: no plan scores higher
    FEASIBLE = "feasible"  # the solver improved on the constructive plan, not proven optimal
    CONSTRUCTIVE = "constructive"  # the constructive plan, which the solver did not beat in time


class StoppedBy(StrEnum):
    """Why the search ended: repeatable (optimal, budget) or not (clock, cancelled)."""

    OPTIMAL = "optimal"  # nothing better exists
    BUDGET = "budget"  # the deterministic work budget ran out, or nothing was left to try: repeatable
    CLOCK = "clock"  # the wall-clock limit cut the search short: another run may differ
    CANCELLED = "cancelled"  # asked to stop early; the best plan so far


@dataclass(frozen=True)
class Component:
    """Cohorts planned as one group: they share facilitators (directly or through each other)."""

    cohorts: tuple[str, ...]
    largest_model: int = field(default=0, compare=False)  # variables of its largest CP-SAT model (not in JSON)


@dataclass(frozen=True)
class Section:
    id: str  # e.g. "support-apac-march-2027/a"; unique within the run
    learners: tuple[str, ...]  # emails, sorted


@dataclass(frozen=True)
class Portion:
    unit: str
    minutes: int


@dataclass(frozen=True)
class Session:
    id: str  # stable across re-plans: same section, same ordinal -> same id
    section: str
    start: datetime  # UTC, aware
    end: datetime  # UTC, aware; end - start == program.live_minutes
    facilitator: str  # email
    units: tuple[Portion, ...]  # in the order they are taught
    prework: tuple[str, ...] = ()  # module ids that must be done before this session


@dataclass(frozen=True)
class Module:
    id: str
    unit: str
    minutes: int
    release: datetime  # UTC, aware
    due: datetime  # UTC, aware


@dataclass(frozen=True)
class CohortPlan:
    name: str
    sections: tuple[Section, ...]
    sessions: tuple[Session, ...]  # sorted by (start, section)
    modules: tuple[Module, ...]  # sorted by (due, id)


@dataclass(frozen=True)
class Penalty:
    """One thing the plan gave up, named after its reason so a page can say it in words."""

    rule: str  # e.g. "outside_hours", "extra_section", "uneven_rhythm"
    weight: int
    amount: int
    text: str  # "Priya Nair joins at 07:30 CDT, 30 min before her day starts"


@dataclass(frozen=True)
class Plan:
    status: Status
    objective: int
    bound: int
    coverage: float  # share of (learner, session of the learner's section) pairs inside working hours
    cohorts: tuple[CohortPlan, ...]
    penalties: tuple[Penalty, ...] = ()
    stopped_by: StoppedBy = StoppedBy.BUDGET
    components: tuple[Component, ...] = ()
    wall_seconds: float = field(default=0.0, compare=False)

    def cohort(self, name: str) -> CohortPlan:
        for cohort in self.cohorts:
            if cohort.name == name:
                return cohort
        raise KeyError(name)


UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how plan_to_dict writes an instant, and the only form parse_utc reads
_UTC_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def utc_text(instant: datetime) -> str:
    """`2027-03-03T14:00:00Z`; refuses naive datetimes."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}")
    return instant.astimezone(UTC).strftime(UTC_FORMAT)


def plan_to_dict(plan: Plan) -> dict:
    return {
        "status": plan.status.value,
        "objective": plan.objective,
        "bound": plan.bound,
        "coverage": round(plan.coverage, 6),
        "stopped_by": plan.stopped_by.value,
        "components": [list(c.cohorts) for c in plan.components],
        "cohorts": [
            {
                "name": cohort.name,
                "sections": [{"id": s.id, "learners": list(s.learners)} for s in cohort.sections],
                "sessions": [
                    {
                        "id": s.id,
                        "section": s.section,
                        "start": utc_text(s.start),
                        "end": utc_text(s.end),
                        "facilitator": s.facilitator,
                        "units": [{"id": p.unit, "minutes": p.minutes} for p in s.units],
                        "prework": list(s.prework),
                    }
                    for s in cohort.sessions
                ],
                "modules": [
                    {
                        "id": m.id,
                        "unit": m.unit,
                        "minutes": m.minutes,
                        "release": utc_text(m.release),
                        "due": utc_text(m.due),
                    }
                    for m in cohort.modules
                ],
            }
            for cohort in plan.cohorts
        ],
    }


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False)


def parse_utc(text: str) -> datetime:
    """'2027-03-03T14:00:00Z' -> the aware UTC instant; anything else is a ValueError, as from strptime.

    `fromisoformat` after a shape check: strptime took about 8 us an instant (every session's start and end, every
    module's release and due date of a stored plan), this under 1 us; fromisoformat alone would also take dates,
    offsets and fractions."""
    if not isinstance(text, str) or _UTC_TEXT.fullmatch(text) is None:
        raise ValueError(f"time data {text!r} does not match format {UTC_FORMAT!r}")
    return datetime.fromisoformat(text)


def plan_from_dict(data: dict) -> Plan:
    """Inverse of plan_to_dict (used to store a plan in a planner run and read it back)."""
    return Plan(
        status=Status(data["status"]),
        objective=int(data["objective"]),
        bound=int(data["bound"]),
        coverage=float(data["coverage"]),
        stopped_by=StoppedBy(data.get("stopped_by", StoppedBy.BUDGET.value)),
        components=tuple(Component(tuple(c), 0) for c in data.get("components", ())),
        cohorts=tuple(
            CohortPlan(
                name=c["name"],
                sections=tuple(Section(s["id"], tuple(s["learners"])) for s in c["sections"]),
                sessions=tuple(
                    Session(
                        id=s["id"],
                        section=s["section"],
                        start=parse_utc(s["start"]),
                        end=parse_utc(s["end"]),
                        facilitator=s["facilitator"],
                        units=tuple(Portion(u["id"], int(u["minutes"])) for u in s["units"]),
                        prework=tuple(s["prework"]),
                    )
                    for s in c["sessions"]
                ),
                modules=tuple(
                    Module(m["id"], m["unit"], int(m["minutes"]), parse_utc(m["release"]), parse_utc(m["due"]))
                    for m in c["modules"]
                ),
            )
            for c in data["cohorts"]
        ),
    )


class PlanningError(Exception):
    """No plan exists. `reasons` name the rule and the data (cohort, unit, week, numbers)."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons
