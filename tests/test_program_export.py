"""A program saved in the browser loads from its own export: program.toml written from the database is read
by the planner's loader, imports back unchanged, and a file program survives import -> export -> load."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from models_helpers import snapshot
from web_helpers import make_person, post_form, run, sign_in, web_client

from models.tables import Program, Unit, UnitRequirement
from planner.loading import load_problem, parse_program
from planner.problem import Mode, Problem
from server.services.importing import import_problem
from server.services.programs import export_program

NOW = datetime(2027, 2, 1, tzinfo=UTC)
SETTINGS = {"live_minutes": "45", "module_max_minutes": "20", "weekly_async_minutes": "90",
            "live_sessions_per_week": "3", "prework_lead_hours": "12", "support": "https://help.example.org/sales"}


def unit_rows(program_id: int) -> list[tuple]:
    """The program's units as (slug, title, minutes, mode, required slugs), in order."""
    units = run(Unit.select().where(Unit.program == program_id).order_by(Unit.position, Unit.id))
    slug_of = {u["id"]: u["slug"] for u in units}
    needs = run(UnitRequirement.select().where(UnitRequirement.unit.is_in(list(slug_of))).order_by(UnitRequirement.id))
    return [(u["slug"], u["title"], u["minutes"], u["mode"],
             tuple(slug_of[r["requires"]] for r in needs if r["unit"] == u["id"])) for u in units]


def program_row(slug: str) -> dict:
    row = run(Program.select().where(Program.slug == slug).first())
    keys = ("name", *SETTINGS)
    return {key: row[key] for key in keys} | {"units": unit_rows(row["id"])}


def test_a_program_built_in_the_browser_round_trips_through_its_file(db):
    designer = make_person("dee@example.org", "designer")
    with web_client(now=NOW) as client:
        sign_in(client, designer.email)
        created = post_form(client, "/programs", {"name": "Café Sales Basics", "slug": "sales-basics", **SETTINGS})
        assert created.status_code == 303
        program_url = created.headers["location"]

        def add(title: str, minutes: int, mode: str, *requires: str) -> int:
            ids = [str(run(Unit.select(Unit.id).where(Unit.slug == s).first())["id"]) for s in requires]
            response = post_form(client, f"{program_url}/units",
                                 {"title": title, "minutes": str(minutes), "mode": mode, "requires": ids})
            assert response.status_code == 200, response.text[:300]
            return run(Unit.select(Unit.id).order_by(Unit.id, ascending=False).first())["id"]

        add("Welcome", 10, "async")
        add("Kick-off call!", 60, "live", "welcome")
        tour = add("Café etiquette", 45, "either", "welcome")
        add("Welcome", 5, "async")  # the same title: the next free slug
        edited = post_form(client, f"{program_url}/units/{tour}",
                           {"title": "Café etiquette", "minutes": "40", "mode": "async",
                            "requires": [str(run(Unit.select(Unit.id).where(Unit.slug == s).first())["id"])
                                         for s in ("kick-off-call", "welcome")]})
        assert edited.status_code == 303

        page = client.get(program_url)
        assert f'href="{program_url}/program.toml"' in page.text and "Export program.toml" in page.text
        exported = client.get(f"{program_url}/program.toml")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/toml")
    assert exported.headers["content-disposition"] == 'attachment; filename="sales-basics.toml"'

    loaded = parse_program("sales-basics.toml", exported.content)
    saved = program_row("sales-basics")
    assert (loaded.name, loaded.id) == ("Café Sales Basics", "sales-basics")
    assert {key: getattr(loaded, key) for key in SETTINGS} == {key: saved[key] for key in SETTINGS}
    assert [(u.id, u.title, u.minutes, u.mode.value, u.requires) for u in loaded.units] == saved["units"] == [
        ("welcome", "Welcome", 10, "async", ()),
        ("kick-off-call", "Kick-off call!", 60, "live", ("welcome",)),
        ("caf-etiquette", "Café etiquette", 40, "async", ("kick-off-call", "welcome")),
        ("welcome-2", "Welcome", 5, "async", ()),
    ]
    assert loaded.unit("welcome").mode is Mode.ASYNC

    # back into the database: under its own id nothing changes; under a new id every field is the same
    before = run(snapshot())
    run(import_problem(Problem(program=loaded, cohorts=()), now=NOW))
    assert run(snapshot()) == before
    run(import_problem(Problem(program=replace(loaded, id="sales-basics-copy"), cohorts=()), now=NOW))
    assert program_row("sales-basics-copy") == saved


@pytest.mark.anyio
async def test_a_file_program_imports_and_exports_to_the_same_program(db, examples, tmp_path):
    minimal = tmp_path / "program.toml"  # defaults left out, a unit without mode or requires
    minimal.write_text('name = "Tiny Program"\n\n[[unit]]\nid = "welcome"\ntitle = "Welcome"\nminutes = 10\n')
    cohorts = [examples / "cohort-apac.toml"]
    for path in (examples / "program.toml", minimal):
        problem = load_problem(path, cohorts)
        imported = await import_problem(problem, now=NOW)
        text = await export_program(imported.program_id)
        assert parse_program("exported.toml", text.encode()) == problem.program


def test_the_purpose_goes_through_the_file_the_browser_and_back(db, examples):
    """`purpose` (the enrolment email's "why") is read from program.toml, saved, shown and edited in the
    browser with the email settings, and written back out."""
    from server.services.programs import program_file

    program = parse_program("program.toml", (examples / "program.toml").read_bytes())
    assert program.purpose.startswith("New agents answer real customer tickets")
    assert parse_program("again.toml", program_file(program).encode()) == program
    with pytest.raises(Exception, match="purpose: at most 1000 characters"):
        parse_program("long.toml", b'name = "P"\npurpose = "' + b"x" * 1001 + b'"\n[[unit]]\nid = "a"\n'
                      b'title = "A"\nminutes = 10\n')

    designer = make_person("dee@example.org", "designer")
    imported = run(import_problem(Problem(program=program, cohorts=()), now=NOW))
    with web_client(now=NOW) as client:
        sign_in(client, designer.email)
        page = client.get(f"/programs/{imported.program_id}")
        assert "New agents answer real customer tickets" in page.text
        bad = post_form(client, f"/programs/{imported.program_id}",
                        {"name": program.name, **SETTINGS, "purpose": "Why", "reminder_hours": "24, soon"})
        assert bad.status_code == 400 and "Reminders: &#39;soon&#39; is not a whole number" in bad.text
        saved = post_form(client, f"/programs/{imported.program_id}",
                          {"name": program.name, **SETTINGS, "purpose": "  So that tickets get answered.  ",
                           "reminder_hours": "1, 48", "default_upcoming": "digest", "default_invitation": "off"})
        assert saved.status_code == 303
        exported = client.get(f"/programs/{imported.program_id}/program.toml").text
    row = run(Program.select().where(Program.id == imported.program_id).first())
    assert row["purpose"] == "So that tickets get answered." and row["reminder_hours"] == "48,1"
    assert parse_program("export.toml", exported.encode()).purpose == "So that tickets get answered."
    from server.services.notifications.kinds import program_defaults

    assert program_defaults(row["notification_defaults"]) == {"invitation": "off", "upcoming": "digest"}
