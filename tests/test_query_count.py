"""Pages run a constant number of queries as a cohort grows: every signed-in page is counted for a cohort of
10 and of 200 learners (each with completions and attendance), and the counts must be the same."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from readiness_helpers import NOW, build_world
from web_helpers import PASSWORD, run, sign_in, web_client

from models.tables import Attendance, Membership, ModuleCompletion, Person, Program, Section, Unit
from server.passwords import hash_password

PAGES = {  # role -> paths ({...} from the world)
    "designer": ["/", "/programs", "/programs/{program}", "/programs/{program}/units/{unit}", "/cohorts", "/cohorts/{alpha}", "/people",
                 "/profile", "/profile/feed", "/facilitator/sessions/{next}", "/outbox", "/preferences"],
    "fay@example.com": ["/facilitator", "/facilitator/sessions/{next}", "/facilitator/sessions/{past}",
                        "/profile"],
    "lea@example.com": ["/learner", "/profile", "/preferences"],
    "mia@example.com": ["/manager", "/manager/readiness.csv"],
}


async def _world(learners: int) -> dict[str, int]:
    from models.migrate import delete_all_rows

    await delete_all_rows()
    world = await build_world(password_hash=hash_password(PASSWORD))
    section = (await Section.select(Section.id).where(Section.cohort == world.alpha).first())["id"]
    people = [Person(email=f"crowd{i}@example.com", name=f"Crowd {i}", role="learner", timezone="Asia/Kolkata")
              for i in range(learners - 2)]
    if people:
        await Person.insert(*people)
    ids = [row["id"] for row in await Person.select(Person.id).where(Person.email.like("crowd%"))]
    if ids:
        await Membership.insert(*[Membership(cohort=world.alpha, person=pid, role="learner", section=section,
                                             manager=world.mia) for pid in ids])
        await ModuleCompletion.insert(*[ModuleCompletion(module=world.m_welcome, person=pid, completed_at=NOW)
                                        for pid in ids[::2]])
        await Attendance.insert(*[Attendance(session=world.past, person=pid, status="present",
                                             marked_by=world.fay, marked_at=NOW) for pid in ids[::3]])
    values = dict(vars(world))
    values["program"] = (await Program.select(Program.id).first())["id"]
    values["unit"] = (await Unit.select(Unit.id).first())["id"]
    return values


@contextmanager
def counting(engine):
    """Count the queries the engine runs (the app's handlers run in another thread; the engine has slots, so
    its class is patched)."""
    counter = {"n": 0}
    kind = type(engine)
    original = kind.run_querystring

    async def run_querystring(self, *args, **kwargs):
        counter["n"] += 1
        return await original(self, *args, **kwargs)

    kind.run_querystring = run_querystring
    try:
        yield counter
    finally:
        kind.run_querystring = original


def _counts(world: dict[str, int]) -> dict[str, int]:
    engine = Person._meta.db
    counts = {}
    for who, paths in PAGES.items():
        email = "dee@example.com" if who == "designer" else who
        with web_client(now=NOW) as client:
            assert sign_in(client, email).status_code == 303
            for path in paths:
                url = path.format(**world)
                client.get(url)  # warm: a first visit may create the feed token
                with counting(engine) as counter:
                    response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                counts[f"{email} {path}"] = counter["n"]
    return counts


def test_pages_run_the_same_number_of_queries_for_10_and_200_learners(db):
    small = _counts(run(_world(10)))
    large = _counts(run(_world(200)))
    grows = {page: (small[page], large[page]) for page in small if small[page] != large[page]}
    assert not grows, f"queries (10 learners, 200 learners) per page: {grows}"


@pytest.mark.parametrize("learners", [10])
def test_the_count_sees_the_queries(db, learners):
    counts = _counts(run(_world(learners)))
    assert all(n > 0 for n in counts.values()), counts
