"""A small published cohort written straight into the tables, for the feed tests.

One program (an async welcome unit split into two modules, two live units), one cohort in two sections, and
people in three zones so the sessions fall on both sides of the March 2027 DST changes (US 14 Mar, EU 28 Mar,
Sydney 4 Apr):

- Fatima (facilitator, Europe/London) runs every session;
- section a: Nia (America/New_York, manager Mo) and Liam (Europe/London);
- section b: Sofia (Australia/Sydney);
- Mo (manager, America/New_York) manages Nia; Uma (learner of no cohort, UTC) sees nothing.

Nia has done welcome-1; Sofia has done welcome-1 and welcome-2 (so a leak of Sofia's status would show).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from models.tables import (
    AsyncModule,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Person,
    Program,
    Section,
    SessionPrework,
    SessionUnit,
    Unit,
)

PUBLISHED_AT = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
COHORT_NAME = "Support - March 2027"
PROGRAM_NAME = "Support Onboarding"

PEOPLE = {
    # key: (name, account role, zone)
    "fatima": ("Fatima Khan", "facilitator", "Europe/London"),
    "nia": ("Nia Brooks", "learner", "America/New_York"),
    "liam": ("Liam Walsh", "learner", "Europe/London"),
    "sofia": ("Sofia Rossi", "learner", "Australia/Sydney"),
    "mo": ("Mo Adeyemi", "manager", "America/New_York"),
    "uma": ("Uma Patel", "learner", "UTC"),
}

# (key, section, start UTC); every session lasts an hour. Chosen around the DST changes of March/April 2027.
SESSIONS = [
    ("a-1", "a", datetime(2027, 3, 10, 14, 0, tzinfo=UTC)),  # New York EST, London GMT
    ("a-2", "a", datetime(2027, 3, 17, 14, 0, tzinfo=UTC)),  # New York EDT (after 14 Mar), London GMT
    ("a-3", "a", datetime(2027, 3, 31, 14, 0, tzinfo=UTC)),  # London BST (after 28 Mar)
    ("b-1", "b", datetime(2027, 3, 11, 22, 0, tzinfo=UTC)),  # Sydney AEDT
    ("b-2", "b", datetime(2027, 4, 1, 22, 0, tzinfo=UTC)),  # Sydney AEDT (before 4 Apr)
    ("b-3", "b", datetime(2027, 4, 8, 22, 0, tzinfo=UTC)),  # Sydney AEST (after 4 Apr)
]
SESSION_UNITS = {"a-1": "product-tour", "a-2": "ticketing", "a-3": "ticketing",
                 "b-1": "product-tour", "b-2": "ticketing", "b-3": "ticketing"}
MODULES = [
    # (key, title, release, due); both are prework for the first session of each section
    ("welcome-1", "Welcome, part 1", datetime(2027, 3, 1, 9, 0, tzinfo=UTC), datetime(2027, 3, 8, 17, 0, tzinfo=UTC)),
    ("welcome-2", "Welcome, part 2", datetime(2027, 3, 1, 9, 0, tzinfo=UTC), datetime(2027, 3, 9, 17, 0, tzinfo=UTC)),
]
PREWORK = {"a-1": ["welcome-1", "welcome-2"], "b-1": ["welcome-1", "welcome-2"]}
COMPLETIONS = {"nia": ["welcome-1"], "sofia": ["welcome-1", "welcome-2"]}


@dataclass
class FeedWorld:
    people: dict[str, int] = field(default_factory=dict)  # key -> Person.id
    sessions: dict[str, int] = field(default_factory=dict)  # key -> LiveSession.id
    modules: dict[str, int] = field(default_factory=dict)  # key -> AsyncModule.id
    cohort: int = 0
    program: int = 0

    async def person(self, key: str) -> dict:
        return await Person.select().where(Person.id == self.people[key]).first()

    async def session(self, key: str) -> dict:
        return await LiveSession.select().where(LiveSession.id == self.sessions[key]).first()


def session_uid(key: str) -> str:
    return f"session-{key}@cadence.test"


def module_uid(key: str) -> str:
    return f"module-{key}@cadence.test"


async def _insert(table, **values) -> int:
    rows = await table.insert(table(**values)).returning(table.id)
    return rows[0]["id"]


async def seed_feed_world(published_at: datetime = PUBLISHED_AT) -> FeedWorld:
    """Every row's created/updated/completed stamp is `published_at` (HTTP tests pass one in the past)."""
    world = FeedWorld()
    for key, (name, role, zone) in PEOPLE.items():
        world.people[key] = await _insert(
            Person, email=f"{key}@example.com", name=name, role=role, timezone=zone, created_at=published_at
        )
    world.program = await _insert(Program, slug="support-onboarding", name=PROGRAM_NAME)
    units = {}
    for position, (slug, title, minutes, mode) in enumerate([
        ("welcome", "Welcome", 30, "async"),
        ("product-tour", "Product tour", 45, "live"),
        ("ticketing", "Ticketing basics", 90, "live"),
    ]):
        units[slug] = await _insert(
            Unit, program=world.program, slug=slug, title=title, minutes=minutes, mode=mode, position=position
        )
    world.cohort = await _insert(
        Cohort, program=world.program, name=COHORT_NAME, start_date=date(2027, 3, 1), weeks=6,
        timezone="Europe/London", max_sections=2, status="published", published_at=published_at,
    )
    sections = {key: await _insert(Section, cohort=world.cohort, key=f"support/{key}") for key in ("a", "b")}
    await _insert(Membership, cohort=world.cohort, person=world.people["fatima"], role="facilitator")
    await _insert(Membership, cohort=world.cohort, person=world.people["nia"], role="learner",
                  section=sections["a"], manager=world.people["mo"])
    await _insert(Membership, cohort=world.cohort, person=world.people["liam"], role="learner", section=sections["a"])
    await _insert(Membership, cohort=world.cohort, person=world.people["sofia"], role="learner",
                  section=sections["b"])
    await _insert(Membership, cohort=world.cohort, person=world.people["mo"], role="manager")

    for key, title, release, due in MODULES:
        world.modules[key] = await _insert(
            AsyncModule, cohort=world.cohort, unit=units["welcome"], key=key, uid=module_uid(key), title=title,
            minutes=15, release_at=release, due_at=due, updated_at=published_at,
        )
    for key, section, start in SESSIONS:
        world.sessions[key] = await _insert(
            LiveSession, cohort=world.cohort, section=sections[section], key=key, uid=session_uid(key),
            starts_at=start, ends_at=start + timedelta(hours=1), facilitator=world.people["fatima"],
            join_url=f"https://meet.example.com/{key}", updated_at=published_at,
        )
        await _insert(SessionUnit, session=world.sessions[key], unit=units[SESSION_UNITS[key]], minutes=45,
                      position=0)
        for module in PREWORK.get(key, []):
            await _insert(SessionPrework, session=world.sessions[key], module=world.modules[module])
    for person, modules in COMPLETIONS.items():
        for module in modules:
            await _insert(ModuleCompletion, module=world.modules[module], person=world.people[person],
                          completed_at=published_at)
    return world


async def move_session(world: FeedWorld, key: str, new_start: datetime, *, now: datetime) -> None:
    """What a re-publish does to a session whose time changed: same uid, sequence + 1, updated_at = now."""
    row = await world.session(key)
    await LiveSession.update({
        LiveSession.starts_at: new_start,
        LiveSession.ends_at: new_start + (row["ends_at"] - row["starts_at"]),
        LiveSession.sequence: row["sequence"] + 1,
        LiveSession.updated_at: now,
    }).where(LiveSession.id == row["id"])


async def cancel_session(world: FeedWorld, key: str, *, now: datetime) -> None:
    """What a re-publish does to a session the new plan drops: status cancelled, sequence + 1."""
    row = await world.session(key)
    await LiveSession.update({
        LiveSession.status: "cancelled",
        LiveSession.cancelled_at: now,
        LiveSession.sequence: row["sequence"] + 1,
        LiveSession.updated_at: now,
    }).where(LiveSession.id == row["id"])


def world_plan(*, moves: dict[str, datetime] | None = None, drop: frozenset[str] = frozenset()):
    """The seeded cohort as a planner Plan (what `publish_plan` takes), with some sessions moved or dropped."""
    from planner import plan as pl

    moves = moves or {}
    learners = {"a": ("liam@example.com", "nia@example.com"), "b": ("sofia@example.com",)}
    sessions = []
    for key, section, start in SESSIONS:
        if key in drop:
            continue
        start = moves.get(key, start)
        sessions.append(pl.Session(
            id=key, section=f"support/{section}", start=start, end=start + timedelta(hours=1),
            facilitator="fatima@example.com", units=(pl.Portion(SESSION_UNITS[key], 45),),
            prework=tuple(PREWORK.get(key, ())),
        ))
    modules = tuple(pl.Module(key, "welcome", 15, release, due) for key, _title, release, due in MODULES)
    cohort = pl.CohortPlan(
        name=COHORT_NAME,
        sections=tuple(pl.Section(f"support/{key}", emails) for key, emails in learners.items()),
        sessions=tuple(sorted(sessions, key=lambda s: (s.start, s.section))),
        modules=modules,
    )
    return pl.Plan(status=pl.Status.FEASIBLE, objective=0, bound=0, coverage=1.0, cohorts=(cohort,))
