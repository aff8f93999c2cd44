"""Small builders for tiny planner instances, and a hypothesis strategy for random valid problems.

    p = problem(program(unit("intro", 30)), cohort("c", [member("f@x", role="facilitator"), member("l@x")]))
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from hypothesis import strategies as st

from planner.loading import working_hours
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
