"""A planner run's page reads the people its plan names and its program's unit titles in one query
(`planning.planner_people_and_unit_titles`): the same as `planner_people` and `labels.unit_titles` apart, also
with no email, an unknown email, a program with no units, another program's units."""

from __future__ import annotations

from web_helpers import make_person, run

from models.tables import Program, Unit
from server.services import labels
from server.services.planning import planner_people, planner_people_and_unit_titles


def _program(slug: str, units: list[tuple[str, str]]) -> int:
    async def build() -> int:
        program = Program(slug=slug, name=slug.title())
        await program.save()
        for position, (unit_slug, title) in enumerate(units):
            await Unit(program=program.id, slug=unit_slug, title=title, minutes=30, position=position).save()
        return program.id

    return run(build())


def test_people_and_unit_titles_together_are_what_the_two_reads_give(db):
    taught = _program("taught", [("kickoff", "Kickoff"), ("calls", "Difficult calls")])
    empty = _program("empty", [])
    _program("other", [("elsewhere", "Elsewhere")])
    make_person("ann@example.org", name="Ann", timezone="Asia/Tokyo", work_start="08:00", work_end="16:00")
    make_person("bob@example.org", name="Bob")
    for emails in (set(), {"ann@example.org"}, {"ann@example.org", "bob@example.org", "nobody@example.org"}):
        for program in (taught, empty):
            apart = (run(planner_people(emails)), run(labels.unit_titles(program)))
            assert run(planner_people_and_unit_titles(emails, program)) == apart, (emails, program)
    people, titles = run(planner_people_and_unit_titles({"ann@example.org", "nobody@example.org"}, taught))
    assert list(people) == ["ann@example.org"] and people["ann@example.org"].timezone == "Asia/Tokyo"
    assert titles == {"kickoff": "Kickoff", "calls": "Difficult calls"}


def test_a_run_page_shows_changed_names_and_hours_at_once(db):
    """The run page keeps the weeks it builds from a plan per worker, keyed by everything they are made of: a
    facilitator renamed, a learner whose hours change, a unit retitled show on the next request."""
    from readiness_helpers import NOW, build_world
    from web_helpers import PASSWORD, sign_in, web_client

    from models.tables import Person
    from server.passwords import hash_password
    from server.services.people import DAY_NAMES, days_from_names
    from server.services.planner_runs import create_run, finish_run
    from server.services.published_plan import published_plan

    async def world() -> int:
        built = await build_world(password_hash=hash_password(PASSWORD))
        program = (await Program.select(Program.id).where(Program.slug == "p").first())["id"]
        run_id = await create_run(program, ["Alpha"], built.designer, 5, now=NOW)
        await finish_run(run_id, await published_plan([built.alpha]), None, now=NOW)
        return run_id

    run_id = run(world())
    with web_client(now=NOW) as client:
        sign_in(client, "dee@example.com")
        before = client.get(f"/plans/{run_id}").text
        assert "Fay Facilitator" in before and "Lea Learner (" in before  # some sessions are outside her hours
        run(Person.update({Person.name: "Fay Renamed"}).where(Person.email == "fay@example.com"))
        run(Person.update({Person.work_start: "00:00", Person.work_end: "23:59",
                           Person.work_days: days_from_names(list(DAY_NAMES))}).where(Person.email == "lea@example.com"))
        titles = run(Unit.select(Unit.slug, Unit.title))
        run(Unit.update({Unit.title: Unit.title + " (retitled)"}).where(Unit.id > 0))
        after = client.get(f"/plans/{run_id}").text
    assert "Fay Renamed" in after and "Fay Facilitator" not in after
    assert "Lea Learner (" not in after  # her day is now the whole day, every day
    assert any(f"{row['title']} (retitled)" in after for row in titles)
