"""Small builders for tiny planner instances, and a hypothesis strategy for random valid problems.

    p = problem(program(unit("intro", 30)), cohort("c", [member("f@x", role="facilitator"), member("l@x")]))
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from planner.loading import working_hours
from planner.plan import CohortPlan, Module, Plan, Portion, Section, Session, Status
from planner.problem import Cohort, Member, Mode, Person, Problem, Program, Role, Unit

# Zones with and without daylight saving, on both hemispheres, and a half-hour offset.
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Europe/Berlin",
)


def person(email: str, tz: str = "UTC", hours: str = "09:00-17:00", days: str = "Mon-Fri", name: str = "") -> Person:
    return Person(email=email, name=name or email.split("@")[0].title(), timezone=tz, hours=working_hours(hours, days))


def member(
    email: str,
    role: Role | str = Role.LEARNER,
    tz: str = "UTC",
    hours: str = "09:00-17:00",
    days: str = "Mon-Fri",
    manager: str | None = None,
    name: str = "",
) -> Member:
    return Member(person=person(email, tz, hours, days, name), role=Role(role), manager=manager)


def facilitator(email: str, tz: str = "UTC", hours: str = "09:00-17:00", days: str = "Mon-Fri") -> Member:
    return member(email, Role.FACILITATOR, tz, hours, days)


def unit(id: str, minutes: int, mode: Mode | str = Mode.LIVE, requires: Iterable[str] = (), title: str = "") -> Unit:
    return Unit(id=id, title=title or id.replace("-", " ").capitalize(), minutes=minutes, mode=Mode(mode),
                requires=tuple(requires))


def program(*units: Unit, **overrides) -> Program:
    fields = {"name": "Test program", "id": "test-program", "units": tuple(units)}
    fields.update(overrides)
    return Program(**fields)


def cohort(
    name: str,
    members: Iterable[Member],
    start: date = date(2027, 3, 1),
    weeks: int = 2,
    tz: str = "UTC",
    **overrides,
) -> Cohort:
    return Cohort(name=name, start=start, weeks=weeks, members=tuple(members), timezone=tz, **overrides)


def problem(program: Program, *cohorts: Cohort, **overrides) -> Problem:
    return Problem(program=program, cohorts=tuple(cohorts), **overrides)


# --- a hand-built valid plan (tests mutate it one rule at a time) ---------------------------------------

def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


PROGRAM = program(
    unit("intro", 20, "async"),
    unit("reading", 10, "async", requires=["intro"]),
    unit("kickoff", 60, "live", requires=["intro"]),
    unit("practice", 30, "live", requires=["kickoff"]),
    unit("wrap", 30, "either", requires=["practice"]),
    live_minutes=60,
    module_max_minutes=15,
    weekly_async_minutes=60,
    live_sessions_per_week=2,
    prework_lead_hours=24,
)
MEMBERS = (
    facilitator("f@example.com", hours="08:00-18:00"),
    facilitator("g@example.com", tz="Europe/London", hours="08:00-18:00"),
    member("a@example.com"),
    member("b@example.com", tz="America/New_York", hours="10:00-18:00"),
)
PROBLEM = problem(PROGRAM, cohort("c1", MEMBERS, start=date(2027, 3, 1), weeks=2, max_sections=2))

S1 = Session("c1/a/1", "c1/a", at(3, 14), at(3, 15), "f@example.com", (Portion("kickoff", 60),), ("intro-1", "intro-2"))
S2 = Session("c1/a/2", "c1/a", at(4, 14), at(4, 15), "g@example.com", (Portion("practice", 30),), ())
MODULES = (
    Module("intro-1", "intro", 10, at(1, 0), at(2, 9)),
    Module("intro-2", "intro", 10, at(1, 0), at(2, 9)),
    Module("reading-1", "reading", 10, at(1, 0), at(2, 16)),
    Module("wrap-1", "wrap", 15, at(4, 15), at(8, 12)),
    Module("wrap-2", "wrap", 15, at(4, 15), at(8, 12)),
)
# b (New York, 10:00-18:00) joins both 14:00Z sessions at 09:00 EST: outside; a (UTC) is inside.
PLAN = Plan(
    status=Status.OPTIMAL,
    objective=0,
    bound=0,
    coverage=0.5,
    cohorts=(CohortPlan("c1", (Section("c1/a", ("a@example.com", "b@example.com")),), (S1, S2), MODULES),),
)


# --- random valid problems ---------------------------------------------------------------------------------

_hours = st.sampled_from(["09:00-17:00", "08:00-16:00", "10:00-18:00", "07:30-15:30", "12:00-20:00"])
_days = st.sampled_from(["Mon-Fri", "Mon-Fri", "Sun-Thu", "Mon,Tue,Wed,Thu"])


@st.composite
def _units(draw) -> tuple[Unit, ...]:
    count = draw(st.integers(1, 4))
    units: list[Unit] = []
    for index in range(count):
        mode = draw(st.sampled_from([Mode.ASYNC, Mode.LIVE, Mode.EITHER]))
        minutes = draw(st.integers(5, 45) if mode is Mode.ASYNC else st.integers(10, 90))
        earlier = [u.id for u in units]
        requires = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        units.append(unit(f"u{index + 1}", minutes, mode, sorted(requires)))
    return tuple(units)


@st.composite
def _person(draw, email: str, *, facilitator: bool) -> Person:
    tz = draw(st.sampled_from(ZONES))
    # Facilitators keep week-day hours so that some slot exists in every cohort window.
    hours = "08:00-18:00" if facilitator else draw(_hours)
    days = "Mon-Fri" if facilitator else draw(_days)
    return person(email, tz, hours, days)


@st.composite
def valid_problems(draw) -> Problem:
    """Random small valid problems (1-2 cohorts, 1-6 learners each, shared facilitators, DST zones) for which
    a plan usually exists: three or four weeks, generous weekly caps, few and short units."""
    prog = program(
        *draw(_units()),
        live_minutes=60,
        module_max_minutes=15,
        weekly_async_minutes=300,
        live_sessions_per_week=3,
        prework_lead_hours=24,
    )
    pool = [draw(_person(f"fac{i}@example.com", facilitator=True)) for i in range(draw(st.integers(1, 2)))]
    cohorts = []
    for c in range(draw(st.integers(1, 2))):
        chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique_by=lambda p: p.email))
        members = [Member(person=p, role=Role.FACILITATOR) for p in chosen]
        learners = draw(st.integers(1, 6))
        members += [
            Member(person=draw(_person(f"learner{c + 1}-{i + 1}@example.com", facilitator=False)))
            for i in range(learners)
        ]
        start = date(2027, 3, 1) + timedelta(days=draw(st.integers(0, 35)))
        weeks = draw(st.integers(3, 4))
        blackout = draw(st.lists(st.integers(0, weeks * 7 - 1), max_size=1))
        cohorts.append(
            cohort(
                f"Cohort {c + 1}",
                members,
                start=start,
                weeks=weeks,
                tz=draw(st.sampled_from(ZONES)),
                max_sections=draw(st.integers(1, 2)),
                min_section_size=1,
                blackout=tuple(start + timedelta(days=d) for d in blackout),
            )
        )
    return problem(prog, *cohorts)
