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
